//! Log lines in nats-server's format, so existing log tooling keeps
//! working: `[pid] 2006/01/02 15:04:05.000000 [INF] message`, with `[DBG]`
//! under `-D` and `[TRC]` protocol traces under `-V`.
//!
//! The log file behaves as nats-server's: SIGUSR1 re-opens it (after
//! logrotate moved it away), `logfile_size_limit` rotates it into
//! `FILE.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` backups of which `logfile_max_num`
//! files are kept, and a config reload may change `debug`, `trace`,
//! `logtime` and `logfile` while the server runs.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::sync::lock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::{Layer, reload};

use crate::gostyle::go_error;
use crate::options::LogOptions;

/// The installed logger: what is shown, how, and where it goes. Settings
/// are read on every event, so a reload takes effect at once.
struct Logger {
    pid: u32,
    debug: AtomicBool,
    trace: AtomicBool,
    logtime: AtomicBool,
    /// The options in force, to tell what a reload changes.
    current: Mutex<LogOptions>,
    out: Mutex<Output>,
    /// The most verbose level shown, so that disabled `trace!` calls cost
    /// nothing; reloaded with the settings.
    level: reload::Handle<LevelFilter, Registry>,
}

enum Output {
    Stderr,
    File(LogFile),
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn max_level(opts: &LogOptions) -> LevelFilter {
    if opts.trace {
        LevelFilter::TRACE
    } else if opts.debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    }
}

impl Logger {
    /// `[pid] [time ][LVL] message\n`, for the lines the file logger
    /// writes itself (about rotation) without going through tracing.
    fn line(&self, label: &str, message: &str) -> String {
        let time = if self.logtime.load(Ordering::Relaxed) {
            format!("{} ", timestamp())
        } else {
            String::new()
        };
        format!("[{}] {time}[{label}] {message}\n", self.pid)
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        match &mut *lock(&self.out) {
            Output::Stderr => io::stderr().write_all(bytes),
            Output::File(file) => file.write(bytes, self),
        }
    }
}

fn timestamp() -> impl fmt::Display {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f")
}

/// A log file, with the size limit it is rotated at.
struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the file, counted from its size when opened.
    size: u64,
    /// Rotate once the file passes this many bytes.
    limit: Option<u64>,
    /// Files to keep, the current one included (0: all).
    max_files: usize,
}

impl LogFile {
    fn open(path: &Path, opts: &LogOptions) -> io::Result<LogFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            limit: u64::try_from(opts.size_limit).ok().filter(|l| *l > 0),
            max_files: usize::try_from(opts.max_files).unwrap_or(0),
        })
    }

    fn over_limit(&self) -> bool {
        self.limit.is_some_and(|limit| self.size > limit)
    }

    /// Writes one line; the line that takes the file past its limit
    /// still goes to it, then the file is rotated.
    fn write(&mut self, bytes: &[u8], logger: &Logger) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        if self.over_limit() {
            self.rotate(logger);
        }
        Ok(())
    }

    /// Renames the file to `FILE.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn`, starts a
    /// new one that says where the old went, and removes the oldest
    /// backups beyond `max_files`.
    fn rotate(&mut self, logger: &Logger) {
        let stamp = chrono::Local::now().format("%Y.%m.%d.%H.%M.%S.%9f");
        let backup = PathBuf::from(format!("{}.{stamp}", self.path.display()));
        let _ = std::fs::rename(&self.path, &backup);
        match open_append(&self.path) {
            Ok(file) => {
                self.file = file;
                self.size = 0;
            }
            Err(e) => {
                // nats-server panics here; the old file (now the backup)
                // keeps the log instead.
                let message = format!(
                    "Unable to re-open the logfile {:?} after rotation: {}",
                    self.path.display().to_string(),
                    go_error(&e)
                );
                self.direct(logger, "ERR", &message);
                // Do not try again on every line.
                self.limit = self.limit.map(|l| l.saturating_mul(2));
                return;
            }
        }
        let message = format!(
            "Rotated log, backup saved as {:?}",
            backup.display().to_string()
        );
        self.direct(logger, "INF", &message);
        if self.max_files > 0 {
            self.purge(logger);
        }
    }

    /// Removes the oldest backups so that `max_files` files remain.
    fn purge(&mut self, logger: &Logger) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(base) = self
            .path
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
        else {
            return;
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                let message = format!(
                    "Unable to read directory {:?} for log purge ({}), will attempt next rotation",
                    dir.display().to_string(),
                    go_error(&e)
                );
                self.direct(logger, "ERR", &message);
                return;
            }
        };
        let mut backups: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.strip_prefix(base.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(is_backup_stamp)
            })
            .collect();
        // The stamps sort oldest first.
        backups.sort();
        let keep = self.max_files - 1;
        let excess = backups.len().saturating_sub(keep);
        for name in &backups[..excess] {
            if let Err(e) = std::fs::remove_file(dir.join(name)) {
                let message = format!(
                    "Unable to remove backup log file {name:?} ({}), will attempt next rotation",
                    go_error(&e)
                );
                self.direct(logger, "ERR", &message);
                return;
            }
            self.direct(logger, "INF", &format!("Purged log file {name:?}"));
        }
    }

    fn direct(&mut self, logger: &Logger, label: &str, message: &str) {
        let line = logger.line(label, message);
        if self.file.write_all(line.as_bytes()).is_ok() {
            self.size += line.len() as u64;
        }
    }
}

/// `YYYY.MM.DD.hh.mm.ss.n…`: the stamp of a rotated log file.
fn is_backup_stamp(stamp: &str) -> bool {
    let parts: Vec<&str> = stamp.split('.').collect();
    let widths = [4, 2, 2, 2, 2, 2];
    parts.len() == 7
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[..6].iter().zip(widths).all(|(p, w)| p.len() == w)
        && (1..=9).contains(&parts[6].len())
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Where the formatted lines go: the installed logger's output.
struct Sink;

struct SinkWriter;

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter
    }
}

impl Write for SinkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match LOGGER.get() {
            Some(logger) => logger.write(bytes)?,
            None => io::stderr().write_all(bytes)?,
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct NatsFormat;

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(logger) = LOGGER.get() else {
            return Ok(());
        };
        write!(writer, "[{}] ", logger.pid)?;
        if logger.logtime.load(Ordering::Relaxed) {
            write!(writer, "{} ", timestamp())?;
        }
        let level = match *event.metadata().level() {
            Level::ERROR => "[ERR]",
            Level::WARN => "[WRN]",
            Level::INFO => "[INF]",
            Level::DEBUG => "[DBG]",
            Level::TRACE => "[TRC]",
        };
        write!(writer, "{level} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Traces a protocol line received from a peer (`<<- [LINE]`) and, for a
/// message, its payload, as nats-server's `-V` does.
pub fn trace_received(tag: &str, line: &[u8], payload: Option<&[u8]>) {
    tracing::trace!("{} - <<- [{}]", tag, String::from_utf8_lossy(line));
    if let Some(payload) = payload {
        tracing::trace!(
            "{} - <<- MSG_PAYLOAD: [{:?}]",
            tag,
            String::from_utf8_lossy(payload)
        );
    }
}

/// Installs the process-wide logger. Debug and trace are independent, as
/// in nats-server: `-V` alone shows traces but not debug lines.
pub fn init(opts: &LogOptions) -> io::Result<()> {
    let out = match &opts.log_file {
        Some(path) => Output::File(LogFile::open(path, opts)?),
        None => Output::Stderr,
    };
    let rotate_now = matches!(&out, Output::File(f) if f.over_limit());
    let (level, handle) = reload::Layer::new(max_level(opts));
    let logger = Logger {
        pid: std::process::id(),
        debug: AtomicBool::new(opts.debug),
        trace: AtomicBool::new(opts.trace),
        logtime: AtomicBool::new(opts.logtime),
        current: Mutex::new(opts.clone()),
        out: Mutex::new(out),
        level: handle,
    };
    LOGGER
        .set(logger)
        .map_err(|_| io::Error::other("the logger is already installed"))?;
    let shown = filter_fn(|meta| {
        let Some(logger) = LOGGER.get() else {
            return false;
        };
        match *meta.level() {
            Level::TRACE => logger.trace.load(Ordering::Relaxed),
            Level::DEBUG => logger.debug.load(Ordering::Relaxed),
            _ => true,
        }
    });
    let lines = tracing_subscriber::fmt::layer()
        .event_format(NatsFormat)
        .with_writer(Sink)
        .with_filter(shown);
    let subscriber = tracing_subscriber::registry().with(level).with(lines);
    tracing::subscriber::set_global_default(subscriber).map_err(io::Error::other)?;
    if rotate_now {
        // The file was already past its limit: this line rotates it.
        tracing::info!("Rotating logfile...");
    }
    Ok(())
}

/// SIGUSR1: closes the log file and opens it again by name, so that
/// logrotate can move it away and have the server start a new one.
pub fn reopen() {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    let reopened = match &mut *lock(&logger.out) {
        Output::Stderr => None,
        Output::File(file) => {
            let opts = lock(&logger.current).clone();
            Some(LogFile::open(&file.path, &opts).map(|new| *file = new))
        }
    };
    match reopened {
        None => tracing::info!("File log re-open ignored, not a file logger"),
        Some(Ok(())) => tracing::info!("File log re-opened"),
        // nats-server exits here; rnats keeps the file it had.
        Some(Err(e)) => tracing::error!("error opening file: {}", go_error(&e)),
    }
}

/// New logging settings from a config reload, checked, to be applied
/// once the rest of the reload succeeded.
pub struct LogReload {
    opts: LogOptions,
}

/// Checks the logging part of a reload: as in nats-server, the size limit
/// and the number of files kept cannot change. Nothing changes yet.
pub fn prepare_reload(new: &LogOptions) -> Result<LogReload, String> {
    let Some(logger) = LOGGER.get() else {
        return Ok(LogReload { opts: new.clone() });
    };
    let old = lock(&logger.current).clone();
    if old.size_limit != new.size_limit {
        return Err(format!(
            "config reload not supported for LogSizeLimit: old={}, new={}",
            old.size_limit, new.size_limit
        ));
    }
    if old.max_files != new.max_files {
        return Err(format!(
            "config reload not supported for LogMaxFiles: old={}, new={}",
            old.max_files, new.max_files
        ));
    }
    Ok(LogReload { opts: new.clone() })
}

impl LogReload {
    /// Applies the new `trace`, `debug`, `logtime` and `logfile`, saying
    /// what changed in nats-server's words (`Reloaded: debug = true`), in
    /// the log as it was before the change. A new log file that cannot be
    /// opened is an error in the log, which stays where it was
    /// (nats-server exits).
    pub fn apply(self) {
        let Some(logger) = LOGGER.get() else {
            return;
        };
        let mut new = self.opts;
        let old = lock(&logger.current).clone();
        let mut file = None;
        if old.log_file != new.log_file
            && let Some(path) = &new.log_file
        {
            match LogFile::open(path, &new) {
                Ok(opened) => file = Some(opened),
                Err(e) => {
                    tracing::error!("error opening file: {}", go_error(&e));
                    new.log_file.clone_from(&old.log_file);
                }
            }
        }
        if old.trace != new.trace {
            tracing::info!("Reloaded: trace = {}", new.trace);
        }
        if old.debug != new.debug {
            tracing::info!("Reloaded: debug = {}", new.debug);
        }
        if old.logtime != new.logtime {
            tracing::info!("Reloaded: logtime = {}", new.logtime);
        }
        if old.log_file != new.log_file {
            let path = new
                .log_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            tracing::info!("Reloaded: log_file = {path}");
        }
        logger.debug.store(new.debug, Ordering::Relaxed);
        logger.trace.store(new.trace, Ordering::Relaxed);
        logger.logtime.store(new.logtime, Ordering::Relaxed);
        if old.log_file != new.log_file {
            let out = match file {
                Some(file) => Output::File(file),
                None => Output::Stderr,
            };
            *lock(&logger.out) = out;
        }
        let _ = logger.level.reload(max_level(&new));
        *lock(&logger.current) = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_stamps() {
        assert!(is_backup_stamp("2026.12.03.08.57.58.941129367"));
        assert!(is_backup_stamp("2026.12.03.08.57.58.9"));
        assert!(!is_backup_stamp("2026.12.03.08.57.58"));
        assert!(!is_backup_stamp("2026.12.03.08.57.58.9411293671"));
        assert!(!is_backup_stamp("old"));
        assert!(!is_backup_stamp("2026.1.03.08.57.58.941129367"));
    }
}

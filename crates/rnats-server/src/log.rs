//! Log lines in nats-server's format, so existing log tooling keeps
//! working: `[pid] 2006/01/02 15:04:05.000000 [INF] message`, with `[DBG]`
//! under `-D` and `[TRC]` protocol traces under `-V`.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::options::LogOptions;

struct NatsFormat {
    pid: u32,
    logtime: bool,
}

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
        write!(writer, "[{}] ", self.pid)?;
        if self.logtime {
            write!(
                writer,
                "{} ",
                chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f")
            )?;
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
    let (debug, trace) = (opts.debug, opts.trace);
    let max = if trace {
        LevelFilter::TRACE
    } else if debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let shown = filter_fn(move |meta| match *meta.level() {
        Level::TRACE => trace,
        Level::DEBUG => debug,
        _ => true,
    });
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: opts.logtime,
    };
    let layer = tracing_subscriber::fmt::layer().event_format(format);
    let result = match &opts.log_file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            let layer = layer
                .with_writer(Mutex::new(file))
                .with_filter(shown)
                .with_filter(max);
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        }
        None => {
            let layer = layer
                .with_writer(io::stderr)
                .with_filter(shown)
                .with_filter(max);
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        }
    };
    result.map_err(io::Error::other)
}

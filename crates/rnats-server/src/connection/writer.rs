//! The one writer of every connection: it sends what publishers and the
//! reader queued (double-buffered, vectored, under the write deadline)
//! and the server's PINGs, and re-reads its settings after a reload.

use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};

use super::outbound::Batch;
use super::{Client, CloseReason, FIRST_PING, lock};
use crate::server::ServerShared;
use std::sync::atomic::Ordering;

pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    server: &ServerShared,
    client: &Client,
    mut writer: W,
) {
    let mut settings = WriterSettings::read(server);
    let mut spare = Batch::default();
    let ping = sleep_until(Instant::now() + settings.ping_interval);
    tokio::pin!(ping);
    let mut first_ping_armed = false;
    loop {
        tokio::select! {
            biased;
            _ = client.wake_writer.notified() => {}
            _ = &mut ping => {
                ping.as_mut().reset(Instant::now() + settings.ping_interval);
                client.ping_timer(settings.ping_max);
            }
        }
        if settings.generation != server.settings_generation() {
            settings = WriterSettings::read(server);
            ping.as_mut().reset(Instant::now() + settings.ping_interval);
        }
        let ping_interval = settings.ping_interval;
        if !first_ping_armed && client.just_connected.load(Ordering::Acquire) {
            first_ping_armed = true;
            ping.as_mut()
                .reset(Instant::now() + FIRST_PING.min(ping_interval));
        }
        let closed = {
            let mut out = lock(&client.outbound);
            out.flush_scheduled = false;
            std::mem::swap(&mut out.batch, &mut spare);
            out.write_started = (!spare.is_empty()).then(std::time::Instant::now);
            out.closed
        };
        if !spare.is_empty() {
            let bytes = spare.len();
            let mut written = 0;
            let mut slow = false;
            let outcome = loop {
                let before = written;
                let write = spare.write_from(&mut writer, &mut written);
                match timeout(settings.write_deadline, write).await {
                    Ok(result) => break Ok(result),
                    // A route that is still taking bytes is written on, as
                    // nats-server's write-timeout policy for routes
                    // ("retry") does: its deadline closes it only when
                    // nothing went out in that time. A large interest
                    // table over a slow link gets through this way.
                    Err(_) if client.is_route && written > before => {
                        if !slow {
                            slow = true;
                            tracing::info!(
                                "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} bytes pending",
                                client.tag,
                                settings.write_deadline,
                                bytes - written
                            );
                            server.stats.slow_consumers.inc(true);
                        }
                    }
                    Err(_) => break Err(()),
                }
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!("{} - Error flushing: {}", client.tag, e);
                    client.close(CloseReason::WriteError, false);
                    break;
                }
                Err(()) => {
                    tracing::info!(
                        "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} bytes pending",
                        client.tag,
                        settings.write_deadline,
                        bytes - written
                    );
                    // A route is counted here, once per episode (as
                    // nats-server counts it); a client by its session.
                    if client.is_route && !slow {
                        server.stats.slow_consumers.inc(true);
                    }
                    client.close(CloseReason::SlowConsumerWriteDeadline, false);
                    break;
                }
            }
            spare.clear_and_shrink();
            lock(&client.outbound).write_started = None;
            client.drained.notify_waiters();
        }
        if closed {
            break;
        }
    }
    let _ = writer.shutdown().await;
}

/// What the writer reads of the settings, again after each reload.
struct WriterSettings {
    generation: u64,
    ping_interval: Duration,
    ping_max: u32,
    write_deadline: Duration,
}

impl WriterSettings {
    fn read(server: &ServerShared) -> Self {
        let generation = server.settings_generation();
        let opts = server.opts();
        WriterSettings {
            generation,
            ping_interval: opts.ping_interval.max(Duration::from_millis(1)),
            ping_max: opts.ping_max,
            write_deadline: opts.write_deadline,
        }
    }
}

//! The one read loop of every connection, clients' and routes' alike.
//!
//! A connection's reader does the same things whatever is on the other
//! end: read into a buffer that grows while reads fill it and shrinks when
//! they don't, wait for the whole of a frame whose size is known, freeze
//! what arrived so payloads can be handed on by reference, let the
//! protocol carry it out, wake every consumer it queued messages for once,
//! hold back while a consumer is far behind, and stop when the connection
//! closes. What differs — the protocol, and what else the reader waits for
//! (a login deadline, a reload, new route permissions) — is the [`Role`]'s.
//! The client role is [`crate::client::session::Session`], the route role
//! `route::session::RouteSession`.

use std::future::Future;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::debug;

use crate::connection::delivery::Deliveries;
use crate::connection::{Client, CloseReason};

/// Reads start this small (idle connections stay cheap) and grow to the
/// role's maximum while the peer keeps filling them.
const MIN_READ: usize = 512;

/// What carrying something out asks of the connection: go on, or close
/// with this reason (flushing what is queued; the role has already sent
/// any `-ERR`).
pub(crate) type Outcome = Result<(), CloseReason>;

/// One side of the protocol: what a connection does with the bytes it
/// reads and the other events it waits for.
pub(crate) trait Role: Send {
    /// Something other than bytes that the reader waits for.
    type Event: Send;

    /// Resolves when such an event happens. Dropped (and asked again) after
    /// every read, so it must not lose what it was waiting for.
    fn event(&mut self) -> impl Future<Output = Self::Event> + Send;

    /// Reacts to an event.
    fn on_event(&mut self, event: Self::Event) -> impl Future<Output = Outcome> + Send;

    /// A reload changed the settings (`Client::settings_reloaded`).
    fn on_reload(&mut self) -> impl Future<Output = Outcome> + Send {
        async { Ok(()) }
    }

    /// Carries out every complete frame at the start of `chunk`; returns
    /// how many bytes it used and sets `want` to the size of the frame that
    /// is incomplete, when known (0 otherwise).
    fn on_bytes(
        &mut self,
        chunk: &Bytes,
        want: &mut usize,
    ) -> impl Future<Output = (usize, Outcome)> + Send;

    /// The consumers this connection queued messages for.
    fn deliveries(&mut self) -> &mut Deliveries;

    /// The connection is over: withdraw what it left behind.
    fn cleanup(&mut self);
}

/// What ended a wait of the read loop.
enum Woken<E> {
    /// The connection's own wake-up: closing, or a reload.
    Client,
    Role(E),
    Read(std::io::Result<usize>),
}

/// Reads `reader` until the connection closes, handing what arrives to
/// `role`. A read takes at most `max_read` bytes (beyond the rest of a
/// frame whose size is known): a read's worth of deliveries is how far a
/// consumer's backlog may grow before flow control looks again.
pub(crate) async fn read_loop<R, H>(client: &Client, role: &mut H, mut reader: R, max_read: usize)
where
    R: AsyncRead + Unpin,
    H: Role,
{
    let max_read = max_read.max(MIN_READ);
    let mut buf = BytesMut::with_capacity(MIN_READ);
    let mut read_size = MIN_READ;
    let mut want = 0usize;
    loop {
        if buf.is_empty() && buf.capacity() > 4 * read_size {
            buf = BytesMut::with_capacity(read_size);
        }
        let room = read_size.max(want.saturating_sub(buf.len()));
        buf.reserve(room);
        let mut limited = (&mut buf).limit(room);
        // Biased: a close or a reload is taken before anything read after
        // it; reading is cancel-safe.
        let read = tokio::select! {
            biased;
            _ = client.reader_woken() => Woken::Client,
            event = role.event() => Woken::Role(event),
            r = reader.read_buf(&mut limited) => Woken::Read(r),
        };
        let n = match read {
            Woken::Client => {
                if client.is_closing() {
                    break;
                }
                if client.take_reload()
                    && let Err(reason) = role.on_reload().await
                {
                    client.close(reason, true);
                    break;
                }
                continue;
            }
            Woken::Role(event) => {
                if let Err(reason) = role.on_event(event).await {
                    client.close(reason, true);
                    break;
                }
                continue;
            }
            Woken::Read(Ok(0)) => {
                client.close(CloseReason::ClientClosed, true);
                break;
            }
            Woken::Read(Ok(n)) => n,
            Woken::Read(Err(e)) => {
                debug!("{} - Read error: {}", client.tag, e);
                client.close(CloseReason::ReadError, false);
                break;
            }
        };
        if n == room {
            read_size = (read_size * 2).min(max_read);
        } else if n < read_size / 4 {
            read_size = (read_size / 2).max(MIN_READ);
        }
        if buf.len() < want {
            continue; // the frame's size is known: wait for all of it
        }
        // Freeze what has arrived, so payloads can be shared by reference;
        // what is left of an incomplete frame goes back.
        let chunk = buf.split().freeze();
        let (consumed, outcome) = role.on_bytes(&chunk, &mut want).await;
        buf.extend_from_slice(&chunk[consumed..]);
        drop(chunk);
        let out = role.deliveries();
        out.flush();
        out.wait_for_slow_consumers().await;
        if let Err(reason) = outcome {
            client.close(reason, true);
            break;
        }
    }
    role.cleanup();
}

//! The connection core that every role shares — clients, routes, and
//! (through their subscriptions) internal clients: [`Client`], what other
//! tasks may touch of a connection (its outbound queue, subscriptions,
//! close state, reply permissions); the one read loop ([`reader`]) and the
//! one writer ([`writer`]); the bytes waiting for a peer ([`outbound`]);
//! and the queueing of a message for every subscription it matched
//! ([`delivery`]).
//!
//! Each connection runs one task that drives two loops: the reader parses
//! what the peer sends and hands it to its role (`client::session` for a
//! client, `route::session` for a route); the writer sends whatever
//! publishers and the reader queued in the connection's [`Outbound`], and
//! sends the server's PINGs. The reader owns the cleanup, the writer owns
//! the socket's write side. The roles import this module, never the
//! reverse, except for the routes a local subscription is announced to
//! (`Client::cluster`) and the settings the writer reads (`ServerShared`).

pub mod closed;
pub mod delivery;
pub mod outbound;
pub mod reader;
pub mod writer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rnats_proto::encode;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::accounts::subscription::Subscription;
use crate::auth::permissions::{ResponsePermission, ResponseTracker};
use crate::stats::{Counts, Traffic};
use outbound::{Batch, Outbound};

/// A producer is held back briefly once a consumer's backlog passes this
/// (or half of max_pending, if smaller, leaving room for one more read):
/// flow control instead of cutting off
/// a consumer that is merely slower than its producer.
const SOFT_PENDING_CAP: usize = 8 * 1024 * 1024;
/// A writer that has not finished a write for this long is stuck, not
/// slow: producers stop waiting for it and it meets max_pending or the
/// write deadline instead.
pub(crate) const STUCK_WRITER: Duration = Duration::from_millis(250);

/// What [`Client::enqueue`] tells the producer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Queued {
    /// The writer must be woken once the producer's batch is done.
    pub wake: bool,
    /// The consumer is behind: the producer should wait for room.
    pub backlogged: bool,
}

/// The backlog past which a producer is held back, for a `max_pending`.
fn soft_pending(max_pending: usize) -> usize {
    SOFT_PENDING_CAP.min(max_pending / 2)
}

/// The server's first PING goes out this soon after the connection starts
/// (nats-server does the same, so dead peers are noticed quickly).
const FIRST_PING: Duration = Duration::from_secs(2);

/// Why a connection ended; the text is what the log says, as nats-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ProtocolViolation,
    ParseError,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    WriteError,
    ReadError,
    MaxConnectionsExceeded,
    MaxAccountConnectionsExceeded,
    ServerShutdown,
    AuthenticationTimeout,
    AuthenticationViolation,
    DuplicateRoute,
    ClusterNameConflict,
    WrongPort,
    RouteRemoved,
    DuplicateServerName,
}

impl CloseReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::ParseError => "Parse Error",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::ClusterNameConflict => "Cluster Name Conflict",
            CloseReason::WrongPort => "Incorrect Port",
            CloseReason::RouteRemoved => "Route Removed",
            CloseReason::DuplicateServerName => "Duplicate Server Name",
        }
    }
}

/// The part of a connection that publishers and the server share.
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    /// `127.0.0.1:5555 - cid:7`: the prefix of every log line about it.
    pub tag: String,
    /// Past this backlog the client is a slow consumer (a reload may
    /// change it); not a route.
    max_pending: AtomicUsize,
    soft_pending: AtomicUsize,
    outbound: Mutex<Outbound>,
    wake_writer: Notify,
    /// Signalled after every completed write, for producers waiting for room.
    drained: Notify,
    /// Wakes the reader: the connection is closing, or a reload happened.
    wake_reader: Notify,
    /// A reload changed the settings: the reader re-reads its limits and,
    /// if the login rules changed, checks its login again.
    reload_pending: AtomicBool,
    closing: AtomicBool,
    close_reason: Mutex<Option<CloseReason>>,
    /// Server PINGs not answered yet.
    pings_out: AtomicU32,
    /// CONNECT was processed: the writer moves its first PING to soon after.
    just_connected: AtomicBool,
    /// It has had a PONG of ours after CONNECT: it reads what we send, so a
    /// PING of ours may go out early to measure its round trip.
    ponged: AtomicBool,
    /// It takes INFO updates (`connect_urls`): it sent `"protocol":1` and
    /// has had the PONG that ends its handshake (a client that reads INFO
    /// before that PONG would take it for an error).
    pub(crate) async_info: AtomicBool,
    /// Its CONNECT said `"headers":true`: it is sent `HMSG`. A client that
    /// did not ask gets a message's payload alone, as `MSG`.
    pub(crate) headers: AtomicBool,
    /// Its subscriptions by sid; only sub/unsub/close touch this.
    pub(crate) subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    /// The nonce its INFO carried, for NKey signatures.
    pub nonce: Option<String>,
    /// Replies it may publish (`allow_responses`), once authenticated.
    responses: Mutex<Option<ResponseTracker>>,
    /// Whether `responses` is set: lets deliveries skip its lock.
    tracks_responses: AtomicBool,
    /// A route to another server of the cluster: messages for it are
    /// sent as `RMSG`, once per message.
    pub is_route: bool,
    /// The cluster its subscriptions are announced to (local clients of a
    /// clustered server only).
    pub(crate) cluster: Option<Arc<crate::route::Cluster>>,
    /// When the connection was accepted.
    pub started: SystemTime,
    /// Messages it published, added once per read (see [`crate::stats`]).
    pub(crate) received: Traffic,
    /// When it last sent something, in nanoseconds since the Unix epoch
    /// (stored once per read).
    last_activity: AtomicU64,
    /// When the PING now awaiting its PONG went out, in nanoseconds since
    /// `started` (0: none), and the round trip the last PONG measured.
    ping_sent: AtomicU64,
    rtt: AtomicU64,
    /// What monitoring shows of it, set when it logs in.
    details: Mutex<Option<Arc<Details>>>,
    /// The TLS version and cipher suite it negotiated, in Go's names.
    pub tls: std::sync::OnceLock<(String, String)>,
    /// The permissions of its login, for `$SYS.REQ.USER.INFO`.
    permissions: Mutex<Option<Arc<crate::auth::permissions::Permissions>>>,
}

/// What a connection said and was granted at its login, for monitoring
/// (`/connz`) and the system account's events.
#[derive(Debug, Default, Clone)]
pub struct Details {
    pub name: String,
    pub lang: String,
    pub version: String,
    /// The user it logged in as (a name, an NKey, a certificate identity).
    pub user: Option<String>,
    pub account: Option<String>,
    /// A user JWT's issuer and name tag, when it logged in with one.
    pub jwt: Option<String>,
    pub issuer_key: Option<String>,
    pub name_tag: Option<String>,
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

use crate::sync::lock;

impl Client {
    pub fn new(id: u64, addr: SocketAddr, max_pending: usize, nonce: Option<String>) -> Self {
        Client {
            id,
            addr,
            tag: format!("{addr} - cid:{id}"),
            max_pending: AtomicUsize::new(max_pending),
            soft_pending: AtomicUsize::new(soft_pending(max_pending)),
            outbound: Mutex::new(Outbound::new()),
            wake_writer: Notify::new(),
            drained: Notify::new(),
            wake_reader: Notify::new(),
            reload_pending: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            pings_out: AtomicU32::new(0),
            just_connected: AtomicBool::new(false),
            ponged: AtomicBool::new(false),
            async_info: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            subs: Mutex::new(HashMap::new()),
            nonce,
            responses: Mutex::new(None),
            tracks_responses: AtomicBool::new(false),
            is_route: false,
            cluster: None,
            started: SystemTime::now(),
            received: Traffic::default(),
            last_activity: AtomicU64::new(0),
            ping_sent: AtomicU64::new(0),
            rtt: AtomicU64::new(0),
            details: Mutex::new(None),
            tls: std::sync::OnceLock::new(),
            permissions: Mutex::new(None),
        }
    }

    /// Counts what one read brought: its messages, and the time.
    #[inline]
    pub(crate) fn read_done(&self, received: Counts) {
        self.received.add(received);
        self.last_activity
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    /// When it last sent something (its start if never).
    pub fn last_activity(&self) -> SystemTime {
        match self.last_activity.load(Ordering::Relaxed) {
            0 => self.started,
            n => UNIX_EPOCH + Duration::from_nanos(n),
        }
    }

    /// Messages queued for it since it connected.
    pub fn sent(&self) -> Counts {
        lock(&self.outbound).sent
    }

    /// Bytes queued for it and not yet written.
    pub fn pending_bytes(&self) -> usize {
        lock(&self.outbound).batch.len()
    }

    /// The round trip its last PONG measured (zero before the first).
    pub fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt.load(Ordering::Relaxed))
    }

    /// What it said and was granted at login (None before).
    pub fn details(&self) -> Option<Arc<Details>> {
        lock(&self.details).clone()
    }

    /// The permissions of its login (None: all allowed, or not logged in).
    pub fn permissions(&self) -> Option<Arc<crate::auth::permissions::Permissions>> {
        lock(&self.permissions).clone()
    }

    pub(crate) fn set_permissions(
        &self,
        permissions: Option<Arc<crate::auth::permissions::Permissions>>,
    ) {
        *lock(&self.permissions) = permissions;
    }

    pub(crate) fn set_details(&self, details: Details) {
        *lock(&self.details) = Some(Arc::new(details));
    }

    /// Makes this a route connection (logged as `rid:N`).
    pub(crate) fn into_route(mut self) -> Self {
        self.is_route = true;
        self.tag = format!("{} - rid:{}", self.addr, self.id);
        self
    }

    /// Announces its subscriptions to `cluster`.
    pub(crate) fn in_cluster(mut self, cluster: Option<Arc<crate::route::Cluster>>) -> Self {
        self.cluster = cluster;
        self
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Appends to the client's output. The answer says whether the caller
    /// must wake the writer once its batch of work is done (see
    /// [`Client::flush`]) and whether the client is falling behind. A
    /// client whose output grows past max_pending is disconnected as a slow
    /// consumer; the caller never blocks here.
    #[inline]
    pub fn enqueue(&self, write: impl FnOnce(&mut Batch)) -> Queued {
        self.enqueue_counted(None, write)
    }

    /// [`Client::enqueue`] for a message of `size` bytes (payload and
    /// headers), counted as sent to this connection.
    #[inline]
    pub fn enqueue_message(&self, size: usize, write: impl FnOnce(&mut Batch)) -> Queued {
        self.enqueue_counted(Some(size), write)
    }

    #[inline(always)]
    fn enqueue_counted(&self, size: Option<usize>, write: impl FnOnce(&mut Batch)) -> Queued {
        let mut out = lock(&self.outbound);
        if out.closed {
            return Queued::default();
        }
        if let Some(size) = size {
            out.sent.count(size);
        }
        write(&mut out.batch);
        let max_pending = self.max_pending.load(Ordering::Relaxed);
        // As nats-server, only a client is a slow consumer by its pending
        // bytes. A route is not closed for them (the interest table a new
        // route is sent may alone be larger); a peer that stops reading is
        // closed by its writer when `write_deadline` passes with nothing
        // written.
        if out.batch.len() > max_pending && !self.is_route {
            let pending = out.batch.len();
            out.batch.clear();
            drop(out);
            tracing::info!(
                "{} - Slow Consumer Detected: MaxPending of {} Exceeded ({} bytes pending)",
                self.tag,
                max_pending,
                pending
            );
            self.close(CloseReason::SlowConsumerPendingBytes, false);
            return Queued::default();
        }
        let wake = !out.flush_scheduled;
        out.flush_scheduled = true;
        let backlogged =
            out.batch.len() > self.soft_pending.load(Ordering::Relaxed) && !out.writer_stuck();
        Queued { wake, backlogged }
    }

    /// Waits (until `deadline` at most) while this client's backlog is over
    /// the soft cap and its writer is making progress.
    pub async fn wait_for_room(&self, deadline: Instant) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let out = lock(&self.outbound);
                if out.closed
                    || out.batch.len() <= self.soft_pending.load(Ordering::Relaxed)
                    || out.writer_stuck()
                {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return;
            }
        }
    }

    /// Wakes the writer to send what was enqueued.
    #[inline]
    pub fn flush(&self) {
        self.wake_writer.notify_one();
    }

    /// Enqueues and flushes at once (for replies outside a batch).
    pub fn send_now(&self, bytes: &[u8]) {
        if self.enqueue(|b| b.put(bytes)).wake {
            self.flush();
        }
    }

    /// Ends the connection. With `flush`, what is already queued (an -ERR,
    /// say) is still written; without, it is dropped (a slow consumer).
    pub fn close(&self, reason: CloseReason, flush: bool) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        *lock(&self.close_reason) = Some(reason);
        {
            let mut out = lock(&self.outbound);
            out.closed = true;
            if !flush {
                out.batch.clear();
            }
        }
        self.wake_writer.notify_one();
        self.wake_reader.notify_one();
    }

    /// Sends `-ERR '<text>'` and closes once it is written.
    pub fn err_and_close(&self, text: &str, reason: CloseReason) {
        tracing::trace!("{} - ->> [-ERR '{}']", self.tag, text);
        self.enqueue(|b| encode::err(b.buf_mut(), text));
        self.close(reason, true);
    }

    /// A reload changed the settings: a new backlog limit now, then the
    /// reader and the writer re-read the rest.
    pub(crate) fn settings_reloaded(&self, max_pending: usize) {
        self.max_pending.store(max_pending, Ordering::Relaxed);
        self.soft_pending
            .store(soft_pending(max_pending), Ordering::Relaxed);
        self.reload_pending.store(true, Ordering::Release);
        self.wake_reader.notify_one();
        self.wake_writer.notify_one();
    }

    /// Whether a reload happened since the last call.
    pub(crate) fn take_reload(&self) -> bool {
        self.reload_pending.swap(false, Ordering::AcqRel)
    }

    /// Resolves when the reader has something to look at besides its
    /// socket: the connection is closing, or a reload happened (one
    /// wake-up source, so an idle connection waits on one future).
    pub(crate) async fn reader_woken(&self) {
        if self.is_closing() || self.reload_pending.load(Ordering::Acquire) {
            return;
        }
        self.wake_reader.notified().await;
    }

    pub fn close_reason(&self) -> CloseReason {
        lock(&self.close_reason).unwrap_or(CloseReason::ClientClosed)
    }

    /// Starts (or stops) tracking the replies this client may publish.
    pub(crate) fn track_responses(&self, permission: Option<ResponsePermission>) {
        self.tracks_responses
            .store(permission.is_some(), Ordering::Release);
        *lock(&self.responses) = permission.map(ResponseTracker::new);
    }

    /// A request with this reply subject is being delivered to the client.
    #[inline]
    pub(crate) fn open_response(&self, reply: &[u8]) {
        if self.tracks_responses.load(Ordering::Acquire)
            && let Some(tracker) = lock(&self.responses).as_mut()
        {
            tracker.opened(reply);
        }
    }

    /// Uses up one permitted reply on `subject`, if there is one.
    pub(crate) fn take_response(&self, subject: &[u8]) -> bool {
        self.tracks_responses.load(Ordering::Acquire)
            && lock(&self.responses)
                .as_mut()
                .is_some_and(|t| t.take(subject))
    }

    /// CONNECT was processed: as nats-server, the first server PING comes
    /// [`FIRST_PING`] later, and none before it.
    pub(crate) fn connected(&self) {
        if !self.just_connected.swap(true, Ordering::AcqRel) {
            self.wake_writer.notify_one();
        }
    }

    /// We answered its PING after CONNECT.
    pub(crate) fn ponged(&self) {
        self.ponged.store(true, Ordering::Relaxed);
    }

    /// Monitoring looks at a client whose round trip is not known yet (the
    /// first server PING is still to come): as nats-server does, a PING
    /// goes out now, if the client has had a PONG of ours or connected
    /// [`FIRST_PING`] ago, so that the next look shows it. A client that
    /// named no language (telnet) is left alone. This PING does not count
    /// as unanswered: looking never makes a client stale.
    pub(crate) fn measure_rtt_if_unknown(&self) {
        if self.rtt.load(Ordering::Relaxed) != 0 || self.is_closing() {
            return;
        }
        let ready = self.ponged.load(Ordering::Relaxed)
            || self.since_start() >= FIRST_PING.as_nanos() as u64;
        if !ready || self.details().is_none_or(|d| d.lang.is_empty()) {
            return;
        }
        let first = self.ping_sent.compare_exchange(
            0,
            self.since_start(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        if first.is_ok() {
            tracing::trace!("{} - ->> [PING]", self.tag);
            self.send_now(encode::PING);
        }
    }

    pub(crate) fn pong_received(&self) {
        self.pings_out.store(0, Ordering::Release);
        let sent = self.ping_sent.swap(0, Ordering::Relaxed);
        if sent != 0 {
            let now = self.since_start();
            self.rtt.store(now.saturating_sub(sent), Ordering::Relaxed);
        }
    }

    /// Nanoseconds since the connection started (at least 1).
    fn since_start(&self) -> u64 {
        let elapsed = self.started.elapsed().unwrap_or_default();
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1)
    }

    /// The ping timer fired: send a PING, or give up on a peer that has not
    /// answered `ping_max` of them.
    fn ping_timer(&self, ping_max: u32) {
        if self.pings_out.fetch_add(1, Ordering::AcqRel) + 1 > ping_max {
            tracing::debug!("{} - Stale Client Connection - Closing", self.tag);
            self.err_and_close(
                rnats_proto::errors::STALE_CONNECTION,
                CloseReason::StaleConnection,
            );
            return;
        }
        tracing::trace!("{} - ->> [PING]", self.tag);
        let _ = self.ping_sent.compare_exchange(
            0,
            self.since_start(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.enqueue(|b| b.put(encode::PING));
    }
}

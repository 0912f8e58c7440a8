//! Delivery: queueing a routed message for the subscriptions it matched,
//! and what a producer owes its consumers once a read is processed (waking
//! each writer once, waiting briefly for consumers that fall behind).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use rnats_proto::encode;
use rnats_proto::parser::Span;
use tokio::time::Instant;
use tracing::{Level, enabled, trace};

use crate::accounts::mapping::Mapped;
use crate::accounts::subscription::{Delivery, Sink, Subscription};
use crate::accounts::{Account, Routes};
use crate::connection::outbound::Batch;
use crate::connection::{Client, Queued};
use crate::route::Cluster;
use crate::sublist::Matches;

/// The longest a producer is held back per read for slow consumers.
const MAX_STALL: std::time::Duration = std::time::Duration::from_millis(20);

/// One producer's pending obligations towards the clients it sent to.
pub struct Deliveries {
    /// Clients that were sent something during the current read.
    to_flush: Vec<Arc<Client>>,
    /// Consumers that fell behind during the current read: the producer
    /// waits a little for them before reading on (flow control).
    behind: Vec<Arc<Client>>,
    rng: u64,
    /// Routes the message being delivered goes to, and for which queue
    /// groups (reused between messages).
    routes: Vec<RouteTarget>,
    /// The id of the connection whose messages these are (its seed), told
    /// to internal subscribers that ask who is asking (`$SYS.REQ.USER.INFO`).
    publisher: u64,
    /// Whether this producer waits for consumers that fall behind (a
    /// client does; a route does not, see [`Deliveries::without_waiting`]).
    waits: bool,
}

/// One route a message is sent to.
struct RouteTarget {
    /// One of the route's subscriptions (for its client and account).
    sub: Arc<Subscription>,
    queues: Vec<Box<[u8]>>,
}

impl Deliveries {
    pub fn new(seed: u64) -> Self {
        Deliveries {
            to_flush: Vec::new(),
            behind: Vec::new(),
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            routes: Vec::new(),
            publisher: seed,
            waits: true,
        }
    }

    /// A producer that never waits for its consumers: a route. Holding a
    /// route's reader back for one slow local consumer would hold back
    /// every message arriving on it, for everyone; as in nats-server, only
    /// a client producer is stalled, and a consumer that cannot keep up
    /// with a route meets `max_pending`.
    pub fn without_waiting(mut self) -> Self {
        self.waits = false;
        self
    }

    /// Remembers to wake `client`'s writer after the current read.
    pub fn touched(&mut self, client: &Arc<Client>) {
        self.to_flush.push(client.clone());
    }

    /// Queues the message for every plain subscription and one member of
    /// each queue group (a local member if there is one, else a route's).
    /// `skip` is the publisher's client id when it does not want its own
    /// messages back (echo off). Each route with interest gets the message
    /// once, naming the queue groups it is to deliver to, except the groups
    /// in `served` (a local member of the same name already had it).
    #[inline(always)]
    pub fn deliver_all(
        &mut self,
        matches: &Matches<Subscription>,
        msg: &Message<'_>,
        skip: Option<u64>,
        served: &[Box<[u8]>],
    ) {
        for sub in &matches.plain {
            if sub.is_route() {
                if !denied(sub, msg) {
                    self.route_target(sub, None);
                }
            } else if skip != Some(sub.client.id) {
                self.deliver(sub, msg);
            }
        }
        if !matches.queues.is_empty() {
            self.deliver_to_groups(matches, msg, skip, served);
        }
        if !self.routes.is_empty() {
            self.send_to_routes(msg);
        }
    }

    /// The queue-group part of [`Deliveries::deliver_all`].
    #[inline(never)]
    fn deliver_to_groups(
        &mut self,
        matches: &Matches<Subscription>,
        msg: &Message<'_>,
        skip: Option<u64>,
        served: &[Box<[u8]>],
    ) {
        for group in &matches.queues {
            let members = &group.members;
            let start = self.next_random() as usize % members.len().max(1);
            let mut remote = None;
            // Routes weighted by the members each peer has (a reservoir
            // pick: one pass, no allocation).
            let mut remote_weight = 0u64;
            let mut delivered = false;
            for i in 0..members.len() {
                let sub = &members[(start + i) % members.len()];
                if skip == Some(sub.client.id) || sub.client.is_closing() {
                    continue;
                }
                if sub.is_route() {
                    if !denied(sub, msg) {
                        let weight = u64::from(sub.weight());
                        remote_weight += weight;
                        if self.next_random() % remote_weight < weight {
                            remote = Some(sub);
                        }
                    }
                    continue;
                }
                if self.deliver(sub, msg) {
                    delivered = true;
                    break;
                }
            }
            if !delivered
                && let Some(sub) = remote
                && !served.iter().any(|name| **name == *group.name)
            {
                self.route_target(sub, Some(&group.name));
            }
        }
    }

    /// A message that came in on a route: for local clients only, the
    /// plain subscriptions and one local member of each queue group the
    /// sender named.
    pub fn deliver_routed(
        &mut self,
        matches: &Matches<Subscription>,
        msg: &Message<'_>,
        queues: Option<&[u8]>,
    ) {
        for sub in &matches.plain {
            if !sub.is_route() {
                self.deliver(sub, msg);
            }
        }
        let Some(queues) = queues else { return };
        for group in &matches.queues {
            if rnats_proto::route::queue_names(queues).any(|q| q == &*group.name) {
                self.deliver_to_local_member(&group.members, msg);
            }
        }
    }

    /// A message published here into an account that imports it: for the
    /// local subscribers only (the routes have it in the exporting
    /// account). The queue groups it reached are added to `served`.
    pub fn deliver_imported(
        &mut self,
        matches: &Matches<Subscription>,
        msg: &Message<'_>,
        served: &mut Vec<Box<[u8]>>,
    ) {
        for sub in &matches.plain {
            if !sub.is_route() {
                self.deliver(sub, msg);
            }
        }
        for group in &matches.queues {
            if self.deliver_to_local_member(&group.members, msg) {
                served.push(group.name.as_ref().into());
            }
        }
    }

    /// Queues the message for one local member of a queue group, if any.
    fn deliver_to_local_member(
        &mut self,
        members: &[Arc<Subscription>],
        msg: &Message<'_>,
    ) -> bool {
        let start = self.next_random() as usize % members.len().max(1);
        for i in 0..members.len() {
            let sub = &members[(start + i) % members.len()];
            if sub.is_route() || sub.client.is_closing() {
                continue;
            }
            if self.deliver(sub, msg) {
                return true;
            }
        }
        false
    }

    /// Carries a message published in `account` into the accounts that
    /// import it: streams `account` exports (to local subscribers: other
    /// servers get the message in `account` and map it themselves, as
    /// nats-server does), and services `account` imports (with the reply
    /// mapped so the answer finds its way back; in a cluster the answer's
    /// interest is announced, as it may come from another server). Queue
    /// groups served by an importer's local member are added to `served`.
    /// True if a service had a responder for it.
    pub fn route_to_importers(
        &mut self,
        account: &Arc<Account>,
        routes: &Routes,
        msg: &Message<'_>,
        served: &mut Vec<Box<[u8]>>,
        cluster: Option<&Cluster>,
    ) -> bool {
        for (target, mapped) in routes.stream_importers(msg.subject) {
            let routed = Message {
                subject: &mapped,
                ..*msg
            };
            let matches = target.sublist.matches(&mapped);
            self.deliver_imported(&matches, &routed, served);
        }
        let mut answered = false;
        for service in &routes.services {
            if !rnats_proto::subject::pattern_matches(&service.local, msg.subject) {
                continue;
            }
            let Some(target) = service.to.upgrade() else {
                continue;
            };
            let Some(remote) = service.map_subject(msg.subject) else {
                continue;
            };
            // The exporter's subject mappings apply, as on nats-server.
            let mut mapped = Vec::new();
            let remote = match target.mappings() {
                Some(m) => match m.map(&remote, || cluster.map(Cluster::name), &mut mapped) {
                    Mapped::NoMatch | Mapped::Unchanged => &remote[..],
                    Mapped::To | Mapped::Dropped => &mapped[..],
                },
                None => &remote[..],
            };
            let reply = msg
                .reply
                .map(|r| target.expect_response(account, r, service.response.is_streamed()));
            if reply.is_some()
                && let Some(cluster) = cluster
            {
                cluster.announce_responses(&target);
            }
            let routed = Message {
                subject: remote,
                reply: reply.as_deref(),
                tail: None,
                ..*msg
            };
            let matches = target.sublist.matches(remote);
            answered |= !matches.plain.is_empty() || !matches.queues.is_empty();
            self.deliver_all(&matches, &routed, None, &[]);
        }
        answered
    }

    /// A message published in `account` on a reply subject made up there
    /// for a cross-account request: it goes to the requester's account on
    /// the requester's own reply subject.
    pub fn route_response(&mut self, account: &Account, msg: &Message<'_>) {
        let Some((requester, reply)) = account.take_response(msg.subject) else {
            return;
        };
        let routed = Message {
            subject: &reply,
            reply: None,
            tail: None,
            ..*msg
        };
        let matches = requester.sublist.matches(&reply);
        self.deliver_all(&matches, &routed, None, &[]);
    }

    /// Notes that the route of `sub` gets this message (for `queue`).
    fn route_target(&mut self, sub: &Arc<Subscription>, queue: Option<&[u8]>) {
        let target = match self
            .routes
            .iter_mut()
            .find(|t| t.sub.client.id == sub.client.id)
        {
            Some(t) => t,
            None => {
                self.routes.push(RouteTarget {
                    sub: sub.clone(),
                    queues: Vec::new(),
                });
                let last = self.routes.len() - 1;
                &mut self.routes[last]
            }
        };
        if let Some(q) = queue {
            target.queues.push(q.into());
        }
    }

    /// Sends the message once to each route noted for it.
    fn send_to_routes(&mut self, msg: &Message<'_>) {
        let mut routes = std::mem::take(&mut self.routes);
        for target in &routes {
            let client = &target.sub.client;
            let account = target.sub.account.name.as_bytes();
            let queues = target.queues.iter().map(|q| &q[..]);
            let (header, total) = match msg.sizes {
                Sizes::Msg(size) => (None, size),
                Sizes::HMsg(h, t) => (Some(h), t),
            };
            let size = msg.body.end - msg.body.start;
            let queued = client.enqueue_message(size, |batch| {
                rnats_proto::route::rmsg_header(
                    batch.buf_mut(),
                    account,
                    msg.subject,
                    msg.reply,
                    queues.clone(),
                    header,
                    total,
                );
                if enabled!(Level::TRACE) {
                    let line = batch.buf_mut();
                    let line = &line[..line.len() - 2];
                    let start = line.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                    trace!(
                        "{} - ->> [{}]",
                        client.tag,
                        String::from_utf8_lossy(&line[start..])
                    );
                }
                put_body(batch, msg);
            });
            self.queued(client, queued);
        }
        routes.clear();
        self.routes = routes;
    }

    /// Queues the message for one subscription. False if it took nothing
    /// (its delivery limit was already reached).
    #[inline(always)]
    pub fn deliver(&mut self, sub: &Arc<Subscription>, msg: &Message<'_>) -> bool {
        if denied(sub, msg) {
            return false;
        }
        match sub.claim() {
            Delivery::Deliver => {}
            Delivery::DeliverLast => sub.cancel(),
            Delivery::Exhausted => return false,
        }
        if let Sink::Internal(inbox) = &sub.sink {
            return self.deliver_internal(inbox, msg);
        }
        let client = &sub.client;
        if let Some(reply) = msg.reply {
            client.open_response(reply);
        }
        if enabled!(Level::TRACE) {
            trace_delivery(client, sub, msg);
        }
        if let Sizes::HMsg(header, _) = msg.sizes
            && !client.headers.load(Ordering::Relaxed)
        {
            return self.deliver_without_headers(sub, msg, header);
        }
        let queued = enqueue_msg(client, sub, msg);
        self.queued(client, queued);
        true
    }

    #[inline(never)]
    fn deliver_internal(&self, inbox: &crate::system::Inbox, msg: &Message<'_>) -> bool {
        inbox.push(msg, self.publisher)
    }

    /// A client that did not ask for headers gets the payload alone, as
    /// `MSG` (the stripped size is formatted here, only then).
    #[cold]
    #[inline(never)]
    fn deliver_without_headers(
        &mut self,
        sub: &Arc<Subscription>,
        msg: &Message<'_>,
        header_size: &[u8],
    ) -> bool {
        let mut size = itoa::Buffer::new();
        let stripped = without_headers(msg, header_size, &mut size);
        let Sizes::Msg(size) = stripped.sizes else {
            return false;
        };
        let client = &sub.client;
        let bytes = stripped.body.end - stripped.body.start;
        let queued = client.enqueue_message(bytes, |batch| {
            encode::msg_header(batch.buf_mut(), msg.subject, &sub.sid, msg.reply, size);
            put_body(batch, &stripped);
        });
        self.queued(client, queued);
        true
    }

    /// Remembers what a client's answer to an enqueue asks of this producer.
    #[inline]
    fn queued(&mut self, client: &Arc<Client>, queued: Queued) {
        if queued.wake {
            self.to_flush.push(client.clone());
        }
        if queued.backlogged {
            self.backlogged(client);
        }
    }

    #[cold]
    #[inline(never)]
    fn backlogged(&mut self, client: &Arc<Client>) {
        if self.waits && !self.behind.iter().any(|c| Arc::ptr_eq(c, client)) {
            self.behind.push(client.clone());
        }
    }

    /// Holds this producer back (not reading its socket, so TCP pushes
    /// back on it) while consumers it fed are over their soft backlog cap,
    /// for at most [`MAX_STALL`] per read. Other consumers already have
    /// their messages; a stuck consumer is not waited for at all.
    pub async fn wait_for_slow_consumers(&mut self) {
        if self.behind.is_empty() {
            return;
        }
        let deadline = Instant::now() + MAX_STALL;
        for client in self.behind.drain(..) {
            client.wait_for_room(deadline).await;
        }
    }

    /// Wakes the writer of every client that was sent something.
    pub fn flush(&mut self) {
        for client in self.to_flush.drain(..) {
            client.flush();
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: spreads queue-group picks; not for anything secret.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// A message with headers, as a client whose CONNECT did not ask for them
/// gets it (as nats-server sends it): `MSG` with the payload alone. A
/// client that does not know `HMSG` would take it for an error.
#[cold]
fn without_headers<'a>(
    msg: &Message<'a>,
    header_size: &[u8],
    size: &'a mut itoa::Buffer,
) -> Message<'a> {
    let header_len = std::str::from_utf8(header_size)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0)
        .min(msg.body.len());
    let body = Span {
        start: msg.body.start + header_len,
        end: msg.body.end,
    };
    Message {
        sizes: Sizes::Msg(size.format(body.len()).as_bytes()),
        body,
        tail: None,
        ..*msg
    }
}

/// Queues the `MSG` (or `HMSG`) frame of `msg` for `sub` on its client.
/// Out of line on purpose: small enough that the lock, the encoding and the
/// checks are inlined into it, however large the publish loop that calls it
/// grows (inlined there, the compiler kept the lock and the encoding as
/// calls of their own, and which it did changed from build to build).
#[inline(never)]
fn enqueue_msg(client: &Client, sub: &Subscription, msg: &Message<'_>) -> Queued {
    let size = msg.body.end - msg.body.start;
    client.enqueue_message(size, |batch| put_msg(batch, sub, msg))
}

/// Appends the `MSG` (or `HMSG`) frame of `msg` for `sub`, in as few
/// copies as its parts allow: the subscription's own line start when its
/// subject is literal, then the publisher's frame from its reply on, as
/// it is, when [`Message::tail`] says that is what the line ends with.
#[inline(always)]
fn put_msg(batch: &mut Batch, sub: &Subscription, msg: &Message<'_>) {
    let headers = matches!(msg.sizes, Sizes::HMsg(..));
    // The usual case, two copies; the rest out of line, so that this
    // function (and the lock around it) stays small.
    if let (Some(start), Some(from)) = (sub.line_start(headers), msg.tail)
        && msg.body.len() < crate::connection::outbound::SHARE_THRESHOLD
    {
        debug_assert_eq!(&sub.subject[..], msg.subject, "a literal subscription");
        debug_assert_eq!(msg.chunk[from..msg.body.start], line_end(msg)[..]);
        batch.put(start);
        // The line's end, the body and its CRLF: one copy.
        batch.put(&msg.chunk[from..msg.body.end + 2]);
        return;
    }
    put_msg_in_parts(batch, sub, msg, headers);
}

/// [`put_msg`] for a wildcard subscription, a frame that is not the line's
/// end as it is, or a payload shared by reference.
#[inline(never)]
fn put_msg_in_parts(batch: &mut Batch, sub: &Subscription, msg: &Message<'_>, headers: bool) {
    match sub.line_start(headers) {
        Some(start) => {
            debug_assert_eq!(&sub.subject[..], msg.subject, "a literal subscription");
            batch.put(start);
        }
        None => {
            batch.put(if headers { b"HMSG " } else { b"MSG " });
            batch.put(msg.subject);
            batch.put(b" ");
            batch.put(&sub.sid);
            batch.put(b" ");
        }
    }
    match msg.tail {
        Some(from) => {
            debug_assert_eq!(msg.chunk[from..msg.body.start], line_end(msg)[..]);
            batch.put(&msg.chunk[from..msg.body.start]);
        }
        None => {
            if let Some(reply) = msg.reply {
                batch.put(reply);
                batch.put(b" ");
            }
            match msg.sizes {
                Sizes::Msg(size) => batch.put(size),
                Sizes::HMsg(header, total) => {
                    batch.put(header);
                    batch.put(b" ");
                    batch.put(total);
                }
            }
            batch.put(b"\r\n");
        }
    }
    put_body(batch, msg);
}

/// What a `MSG`/`HMSG` line has after the sid, built from its parts (to
/// check [`Message::tail`] against).
fn line_end(msg: &Message<'_>) -> Vec<u8> {
    let mut end = Vec::new();
    if let Some(reply) = msg.reply {
        end.extend_from_slice(reply);
        end.push(b' ');
    }
    match msg.sizes {
        Sizes::Msg(size) => end.extend_from_slice(size),
        Sizes::HMsg(header, total) => {
            end.extend_from_slice(header);
            end.push(b' ');
            end.extend_from_slice(total);
        }
    }
    end.extend_from_slice(b"\r\n");
    end
}

/// Appends a message's body and the closing CRLF: see [`large_payload`]
/// for a large one; a small one is copied.
#[inline(always)]
fn put_body(batch: &mut Batch, msg: &Message<'_>) {
    let payload = msg.body.of(msg.chunk);
    if payload.len() >= crate::connection::outbound::SHARE_THRESHOLD {
        match large_payload(msg.chunk, msg.body) {
            Some(copy) => batch.put_payload(&copy),
            None => batch.put(payload),
        }
    } else {
        batch.put(payload);
    }
    batch.put(b"\r\n");
}

thread_local! {
    /// The large payload this thread delivered last, as a slice of its
    /// publisher's buffer, and its copy once a second subscriber wanted it.
    static LAST_LARGE: std::cell::RefCell<Option<(Bytes, Option<Bytes>)>> =
        const { std::cell::RefCell::new(None) };
}

/// How a large payload is delivered without pinning its publisher's read
/// buffer: a slice of it would keep the whole buffer (a read's worth of
/// other frames, and the room after them) alive for as long as a slow
/// subscriber holds the message, far beyond what `max_pending` counts.
/// So the first subscriber of a message gets a plain copy (`None`: copy it
/// into the batch), and the second makes one copy of exactly the payload
/// that it and every further subscriber share (a fan-out still copies it
/// at most twice). A message is recognised by its place in the publisher's
/// buffer, which the remembered slice keeps alive so the place cannot be
/// reused by other bytes; it pins one buffer per thread at most, until the
/// next large payload.
fn large_payload(chunk: &Bytes, body: Span) -> Option<Bytes> {
    let payload = &chunk[body.range()];
    LAST_LARGE.with_borrow_mut(|last| {
        if let Some((seen, copy)) = last
            && seen.as_ptr() == payload.as_ptr()
            && seen.len() == payload.len()
        {
            return Some(
                copy.get_or_insert_with(|| Bytes::copy_from_slice(payload))
                    .clone(),
            );
        }
        *last = Some((chunk.slice(body.range()), None));
        None
    })
}

/// A message being routed: where its parts are in the publisher's buffer.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    pub chunk: &'a Bytes,
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub sizes: Sizes<'a>,
    pub body: Span,
    /// Where in `chunk` the publisher's frame goes on exactly as a `MSG`
    /// (or `HMSG`) delivery of it ends: the reply if any, the sizes, single
    /// spaces, the CRLF, then `body` and its CRLF — so a delivery copies it
    /// whole. `None` when any of that differs (another reply, other sizes,
    /// another body, a frame written unusually): whoever changes one of
    /// those in a copy of a `Message` sets it to `None`.
    pub tail: Option<usize>,
}

/// [`Message::tail`] for a frame whose reply (if any) and sizes are at
/// these spans of `chunk`: where the reply (or the first size) starts, if
/// each of them follows the one before (the subject first) after a single
/// space and the line's CRLF follows the last, right before `body`.
#[inline]
pub fn verbatim_tail(
    chunk: &[u8],
    subject: Span,
    reply: Option<Span>,
    sizes: &[Span],
    body: Span,
) -> Option<usize> {
    let mut at = subject.end;
    if let Some(reply) = reply {
        at = after_one_space(chunk, at, reply)?;
    }
    for &size in sizes {
        at = after_one_space(chunk, at, size)?;
    }
    let crlf = chunk.get(at..body.start)?;
    (crlf == b"\r\n").then_some(subject.end + 1)
}

/// Where `span` ends, if it starts one space after `at`.
#[inline(always)]
fn after_one_space(chunk: &[u8], at: usize, span: Span) -> Option<usize> {
    (span.start == at + 1 && chunk.get(at) == Some(&b' ')).then_some(span.end)
}

/// The sizes a delivery announces, as the publisher wrote them.
#[derive(Clone, Copy)]
pub enum Sizes<'a> {
    /// `MSG ... <size>`.
    Msg(&'a [u8]),
    /// `HMSG ... <header size> <total size>`.
    HMsg(&'a [u8], &'a [u8]),
}

#[cold]
#[inline(never)]
fn trace_delivery(client: &Client, sub: &Subscription, msg: &Message<'_>) {
    let subject = String::from_utf8_lossy(msg.subject);
    let sid = String::from_utf8_lossy(&sub.sid);
    let reply = msg
        .reply
        .map(|r| format!("{} ", String::from_utf8_lossy(r)))
        .unwrap_or_default();
    match msg.sizes {
        Sizes::Msg(size) => trace!(
            "{} - ->> [MSG {} {} {}{}]",
            client.tag,
            subject,
            sid,
            reply,
            String::from_utf8_lossy(size)
        ),
        Sizes::HMsg(header, total) => trace!(
            "{} - ->> [HMSG {} {} {}{} {}]",
            client.tag,
            subject,
            sid,
            reply,
            String::from_utf8_lossy(header),
            String::from_utf8_lossy(total)
        ),
    }
}

/// Whether `sub` is a wildcard subscription that may not have this message
/// (its subject is one the subscriber's permissions, or a route's `export`,
/// deny).
#[inline]
fn denied(sub: &Subscription, msg: &Message<'_>) -> bool {
    sub.deny
        .as_ref()
        .is_some_and(|deny| deny.denies(msg.subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans of `frame`'s arguments after the verb (split at blanks)
    /// and of its body, as a parser gives them.
    fn spans(frame: &[u8]) -> (Vec<Span>, Span) {
        let line_end = frame.iter().position(|&b| b == b'\n').unwrap();
        let mut args = Vec::new();
        let mut start = None;
        for (i, &b) in frame[..=line_end].iter().enumerate() {
            let blank = b <= b' ';
            match (start, blank) {
                (None, false) => start = Some(i),
                (Some(s), true) => {
                    args.push(Span { start: s, end: i });
                    start = None;
                }
                _ => {}
            }
        }
        let body = Span {
            start: line_end + 1,
            end: frame.len() - 2,
        };
        (args[1..].to_vec(), body)
    }

    fn tail(frame: &[u8], with_reply: bool) -> Option<Vec<u8>> {
        let (args, body) = spans(frame);
        let subject = args[0];
        let (reply, sizes) = match with_reply {
            true => (Some(args[1]), &args[2..]),
            false => (None, &args[1..]),
        };
        verbatim_tail(frame, subject, reply, sizes, body).map(|from| frame[from..].to_vec())
    }

    #[test]
    fn a_single_spaced_frame_is_its_msg_lines_end_as_it_is() {
        assert_eq!(tail(b"PUB a.b 2\r\nhi\r\n", false).unwrap(), b"2\r\nhi\r\n");
        assert_eq!(
            tail(b"PUB a r 02\r\nhi\r\n", true).unwrap(),
            b"r 02\r\nhi\r\n"
        );
        assert_eq!(
            tail(b"HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", true).unwrap(),
            b"r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        );
    }

    #[test]
    fn other_blanks_are_not_copied() {
        for frame in [
            &b"PUB a\t2\r\nhi\r\n"[..],
            b"PUB a  2\r\nhi\r\n",
            b"PUB a 2 \r\nhi\r\n",
            b"PUB a 2\nhi\r\n",
            b"HPUB a 12\t14\r\nNATS/1.0\r\n\r\nhi\r\n",
        ] {
            let sizes = if frame.starts_with(b"H") { 3 } else { 2 };
            let (args, body) = spans(frame);
            assert_eq!(args.len(), sizes, "{frame:?}");
            assert_eq!(
                verbatim_tail(frame, args[0], None, &args[1..], body),
                None,
                "{:?}",
                String::from_utf8_lossy(frame)
            );
        }
    }

    /// Issue 13, item 10: a large payload delivered to a slow subscriber
    /// must not keep its publisher's whole read buffer alive. Its first
    /// subscriber gets a copy, the others share one more, and once this
    /// thread has delivered another large payload nothing refers to the
    /// buffer any longer.
    #[tokio::test]
    async fn a_large_payload_never_pins_its_publishers_buffer() {
        let payload = vec![b'p'; 5000];
        let mut frame = b"PUB big 5000\r\n".to_vec();
        frame.extend_from_slice(&payload);
        frame.extend_from_slice(b"\r\nPUB other 0\r\n\r\n");
        // The rest of a read's worth of buffer.
        frame.resize(256 * 1024, b' ');
        let chunk = Bytes::from(frame);
        let body = Span {
            start: 14,
            end: 14 + payload.len(),
        };
        let msg = Message {
            chunk: &chunk,
            subject: b"big",
            reply: None,
            sizes: Sizes::Msg(b"5000"),
            body,
            tail: None,
        };
        let mut batches: Vec<Batch> = (0..3).map(|_| Batch::default()).collect();
        for batch in &mut batches {
            put_body(batch, &msg);
        }
        let next = Bytes::from(vec![b'n'; 8192]);
        assert!(
            large_payload(
                &next,
                Span {
                    start: 0,
                    end: 8192
                }
            )
            .is_none()
        );
        assert!(
            chunk.is_unique(),
            "a delivery still holds the publisher's buffer"
        );
        let mut expected = payload.clone();
        expected.extend_from_slice(b"\r\n");
        for batch in &batches {
            let mut out = Vec::new();
            batch.write_to(&mut out).await.unwrap();
            assert_eq!(out, expected);
        }
    }
}

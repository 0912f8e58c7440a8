//! Internal clients: the server's own services (the system account's
//! `$SYS.REQ.*` requests, monitoring, JetStream) subscribing and
//! publishing in accounts like clients, without a socket.
//!
//! A [`SystemClient`] is one such client. Its subscriptions live in the
//! account's index like a connection's, and in a cluster their interest is
//! announced to the routes like a connection's, so a request published on
//! any server reaches the service. A delivery to one of them is not encoded
//! as `MSG`: the subscription's [`Sink`] is an inbox, and the publisher
//! puts an [`InboundMessage`] there (subject, reply, headers and payload as
//! [`Bytes`]) for the [`Subscriber`] to take. Publishing
//! ([`SystemClient::publish`]) goes through the same delivery path as a
//! client's `PUB`: the account's index, stream and service imports, routes,
//! and replies to cross-account requests, so an answer reaches its
//! requester wherever it is connected.
//!
//! **Flood limit.** Each inbox holds at most [`PendingLimits`] (messages
//! and bytes). A delivery past them is dropped and counted
//! ([`Subscriber::dropped`]), with one warning per burst; the subscription
//! stays. Dropping, rather than closing the subscriber as a slow consumer,
//! keeps a server's own service alive through a flood: NATS delivery is at
//! most once, and a requester whose request was dropped times out and may
//! ask again, while a closed service would be gone until a restart. A full
//! inbox also declines a queue group's message, so another member gets it.
//!
//! [`SystemClient::serve`] is the request/response convenience: a handler
//! that takes a message and returns the reply's payload.
//!
//! `claims` is the first service on it: `$SYS.REQ.CLAIMS.UPDATE`.
//!
//! [`Sink`]: crate::accounts::subscription::Sink
//!
//! **Owns**: internal clients and their inboxes. **May not touch** sockets
//! or the protocol encoders: an internal subscriber never sees `MSG` bytes.

pub(crate) mod claims;
mod inbox;

pub use inbox::{Inbox, PendingLimits};

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use rnats_proto::parser::Span;
use rnats_proto::subject;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::accounts::subscription::{Sink, Subscription};
use crate::accounts::{Account, RESPONSE_PREFIX};
use crate::connection::delivery::{Deliveries, Message, Sizes};
use crate::connection::{Client, CloseReason};
use crate::route::Cluster;
use crate::sync::lock;

/// Internal clients take ids from the top down, so they never meet a
/// connection's (those count up from 1).
static NEXT_ID: AtomicU64 = AtomicU64::new(u64::MAX);

/// Who answers, for the `server` part of system answers.
#[derive(Debug, Clone)]
pub struct ServerIdent {
    pub id: String,
    pub name: String,
    pub host: String,
    pub version: String,
}

/// A message delivered to an internal subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    /// The header block as published (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// The id of the connection that published it (nats-server's cid;
    /// another internal client's is no connection's).
    pub publisher: u64,
}

impl InboundMessage {
    /// What it counts for in its inbox's byte limit.
    fn size(&self) -> usize {
        self.subject.len()
            + self.reply.as_ref().map_or(0, Bytes::len)
            + self.headers.as_ref().map_or(0, Bytes::len)
            + self.payload.len()
    }
}

/// A message an internal client publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    /// A complete header block (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

impl OutboundMessage {
    pub fn new(subject: impl Into<Bytes>, payload: impl Into<Bytes>) -> Self {
        OutboundMessage {
            subject: subject.into(),
            reply: None,
            headers: None,
            payload: payload.into(),
        }
    }

    pub fn with_reply(mut self, reply: impl Into<Bytes>) -> Self {
        self.reply = Some(reply.into());
        self
    }

    pub fn with_headers(mut self, headers: impl Into<Bytes>) -> Self {
        self.headers = Some(headers.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    #[error("invalid subject")]
    InvalidSubject,
    #[error("invalid queue group name")]
    InvalidQueue,
    #[error("the internal client is closed")]
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("invalid publish subject")]
    InvalidSubject,
    #[error("invalid reply subject")]
    InvalidReply,
    #[error("headers must be a NATS/1.0 header block")]
    InvalidHeaders,
    #[error("the internal client is closed")]
    Closed,
}

/// A server-internal client: subscribes and publishes in any account, has
/// no socket. Cheap to clone (clones share the client); [`close`] ends every
/// subscription of it.
///
/// [`close`]: SystemClient::close
#[derive(Clone)]
pub struct SystemClient {
    /// What the index and the cluster know a subscriber by: its id, its
    /// subscriptions (by sid), its close state, the cluster to announce to.
    client: Arc<Client>,
}

impl SystemClient {
    /// A new internal client. With a cluster, its subscriptions' interest
    /// is announced to the routes.
    pub fn new(cluster: Option<Arc<Cluster>>) -> Self {
        let id = NEXT_ID.fetch_sub(1, Ordering::Relaxed);
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let client = Client::new(id, addr, usize::MAX, None).in_cluster(cluster);
        SystemClient {
            client: Arc::new(client),
        }
    }

    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// Subscribes to `subject` (wildcards allowed) in `account`, in queue
    /// group `queue` if given, with the default [`PendingLimits`].
    pub fn subscribe(
        &self,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<Subscriber, SubscribeError> {
        self.subscribe_with(account, subject, queue, PendingLimits::default())
    }

    /// [`subscribe`](SystemClient::subscribe) with other pending limits.
    pub fn subscribe_with(
        &self,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
        limits: PendingLimits,
    ) -> Result<Subscriber, SubscribeError> {
        if !subject::is_valid_subject(subject.as_bytes()) {
            return Err(SubscribeError::InvalidSubject);
        }
        if queue.is_some_and(|q| q.is_empty() || q.bytes().any(|b| b.is_ascii_whitespace())) {
            return Err(SubscribeError::InvalidQueue);
        }
        let subject = Bytes::copy_from_slice(subject.as_bytes());
        let inbox = Arc::new(Inbox::new(subject.clone(), limits));
        let sid = Bytes::copy_from_slice(
            itoa::Buffer::new()
                .format(NEXT_SID.fetch_add(1, Ordering::Relaxed))
                .as_bytes(),
        );
        let mut sub = Subscription::new(
            self.client.clone(),
            account.clone(),
            subject,
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
            sid,
        );
        sub.sink = Sink::Internal(inbox.clone());
        let sub = Arc::new(sub);
        let _hold = crate::route::hold_interest(&self.client.cluster);
        // Under the client's table lock, so `close` cannot miss it.
        let mut subs = lock(&self.client.subs);
        if self.client.is_closing() {
            return Err(SubscribeError::Closed);
        }
        account
            .sublist
            .insert(sub.clone())
            .map_err(|_| SubscribeError::InvalidSubject)?;
        if let Some(cluster) = &self.client.cluster {
            cluster.local_sub(&sub);
        }
        subs.insert(sub.sid.clone(), sub.clone());
        drop(subs);
        Ok(Subscriber { sub, inbox })
    }

    /// Publishes in `account` as a client's `PUB`/`HPUB` would: to the
    /// local subscribers, the importing accounts, the routes with interest,
    /// and to the requester of a cross-account request when `subject` is
    /// the reply made up for it. Never waits: a connection that falls too
    /// far behind is closed as a slow consumer, an internal subscriber's
    /// full inbox drops the message.
    pub fn publish(
        &self,
        account: &Arc<Account>,
        msg: OutboundMessage,
    ) -> Result<(), PublishError> {
        if !subject::is_valid_literal_subject(&msg.subject) {
            return Err(PublishError::InvalidSubject);
        }
        if msg
            .reply
            .as_ref()
            .is_some_and(|r| !subject::is_valid_literal_subject(r))
        {
            return Err(PublishError::InvalidReply);
        }
        let headers = msg.headers.filter(|h| !h.is_empty());
        if headers
            .as_ref()
            .is_some_and(|h| !h.starts_with(b"NATS/1.0") || !h.ends_with(b"\r\n\r\n"))
        {
            return Err(PublishError::InvalidHeaders);
        }
        if self.client.is_closing() {
            return Err(PublishError::Closed);
        }
        // Deliveries share the body: headers and payload in one buffer.
        let chunk = match &headers {
            None => msg.payload,
            Some(h) => {
                let mut body = BytesMut::with_capacity(h.len() + msg.payload.len());
                body.extend_from_slice(h);
                body.extend_from_slice(&msg.payload);
                body.freeze()
            }
        };
        let mut total = itoa::Buffer::new();
        let total = total.format(chunk.len()).as_bytes();
        let mut header = itoa::Buffer::new();
        let sizes = match &headers {
            None => Sizes::Msg(total),
            Some(h) => Sizes::HMsg(header.format(h.len()).as_bytes(), total),
        };
        let message = Message {
            chunk: &chunk,
            subject: &msg.subject,
            reply: msg.reply.as_deref(),
            sizes,
            body: Span {
                start: 0,
                end: chunk.len(),
            },
            tail: None,
        };
        // A fresh seed each time, so queue groups are served in turn.
        let mut out = Deliveries::new(rand::random());
        let mut served = Vec::new();
        if let Some(routes) = account.routes() {
            let cluster = self.client.cluster.as_deref();
            out.route_to_importers(account, &routes, &message, &mut served, cluster);
        }
        out.deliver_all(
            &account.sublist.matches(&msg.subject),
            &message,
            None,
            &served,
        );
        if msg.subject.starts_with(RESPONSE_PREFIX) {
            out.route_response(account, &message);
        }
        out.flush();
        Ok(())
    }

    /// Answers requests on `subject` in `account` (in queue group `queue`
    /// if given) until this client is closed or the task is aborted: each
    /// message goes to `handler`, and what it returns is published to the
    /// message's reply subject (nothing when it returns None or there is
    /// no reply). The handler runs on the service's task, one message at a
    /// time: it should be quick (a blocking one belongs on a subscriber of
    /// its own that hands work to the blocking pool).
    pub fn serve<F>(
        &self,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
        mut handler: F,
    ) -> Result<JoinHandle<()>, SubscribeError>
    where
        F: FnMut(&InboundMessage) -> Option<Bytes> + Send + 'static,
    {
        let mut requests = self.subscribe(account, subject, queue)?;
        let client = self.clone();
        let account = account.clone();
        Ok(tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                let answer = handler(&request);
                if let (Some(reply), Some(payload)) = (request.reply, answer)
                    && let Err(e) = client.publish(&account, OutboundMessage::new(reply, payload))
                {
                    debug!(
                        "Internal service on {:?} could not answer: {e}",
                        String::from_utf8_lossy(&request.subject)
                    );
                }
            }
        }))
    }

    /// Ends every subscription of this client (their subscribers receive
    /// what is already queued, then None) and refuses new ones.
    pub fn close(&self) {
        self.client.close(CloseReason::ServerShutdown, false);
        let subs: Vec<_> = lock(&self.client.subs).drain().map(|(_, s)| s).collect();
        for sub in subs {
            if let Sink::Internal(inbox) = &sub.sink {
                inbox.close();
            }
            sub.cancel();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closing()
    }
}

/// Sids of internal subscriptions (unique per process, so per client).
static NEXT_SID: AtomicU64 = AtomicU64::new(1);

/// One internal subscription: the messages delivered to it, in order.
/// Dropping it unsubscribes.
pub struct Subscriber {
    sub: Arc<Subscription>,
    inbox: Arc<Inbox>,
}

impl Subscriber {
    /// The next message; None once unsubscribed or its client is closed
    /// (after what was already queued).
    pub async fn recv(&mut self) -> Option<InboundMessage> {
        self.inbox.recv().await
    }

    /// The next message, if one is waiting.
    pub fn try_recv(&mut self) -> Option<InboundMessage> {
        self.inbox.try_recv()
    }

    pub fn subject(&self) -> &[u8] {
        &self.sub.subject
    }

    /// Messages dropped because too many were waiting (see [`PendingLimits`]).
    pub fn dropped(&self) -> u64 {
        self.inbox.dropped()
    }

    /// Messages waiting to be received.
    pub fn pending(&self) -> usize {
        self.inbox.pending()
    }

    /// Ends the subscription (as dropping it does).
    pub fn unsubscribe(self) {}
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.inbox.close();
        self.sub.cancel();
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("subject", &String::from_utf8_lossy(&self.sub.subject))
            .field("queue", &self.sub.queue)
            .finish()
    }
}

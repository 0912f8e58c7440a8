//! A client's interest in a subject: what the subscription index stores and
//! what a publisher delivers to, and where a delivery goes ([`Sink`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use bytes::Bytes;

use crate::accounts::Account;
use crate::auth::permissions::Rule;
use crate::connection::Client;
use crate::sublist::Subscriber;

pub struct Subscription {
    pub client: Arc<Client>,
    /// Where deliveries go: decided once, when the subscription is made,
    /// so the delivery path branches on the subscription it already holds.
    pub sink: Sink,
    /// The account whose index holds it.
    pub account: Arc<Account>,
    /// For a wildcard subscription that overlaps denied subjects: the rule
    /// to filter deliveries with.
    pub deny: Option<Arc<Rule>>,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    /// `HMSG <subject> <sid> ` for a client connection's subscription to a
    /// literal subject (every message it gets has that subject), so a
    /// delivery starts its line with one copy (`MSG ...` is the same bytes
    /// from the second on); empty for the others. `subject` and `sid` are
    /// slices of it, so it costs no extra allocation.
    line_start: Bytes,
    /// Deliveries after which the subscription ends (`UNSUB <sid> <max>`); 0 = none.
    max: AtomicU64,
    delivered: AtomicU64,
    /// For a route's queue subscription: how many members of the group
    /// the peer has (its `RS+` weight), so that a group with no local
    /// member is served by servers in proportion, as nats-server does.
    weight: AtomicU32,
}

/// What a delivery to a subscription becomes.
pub enum Sink {
    /// `MSG`/`HMSG` in the client connection's outbound queue.
    Connection,
    /// A peer's interest: `RMSG` to the route, once per message.
    Route,
    /// A structured message in an internal subscriber's inbox (no socket,
    /// no encoding; see [`crate::system`]).
    Internal(Arc<crate::system::Inbox>),
}

/// What a publisher may do with one matching subscription.
pub enum Delivery {
    /// Deliver; the subscription goes on.
    Deliver,
    /// Deliver; this was its last message, remove it.
    DeliverLast,
    /// Its quota is already used up (a concurrent publisher took the last one).
    Exhausted,
}

impl Subscription {
    pub fn new(
        client: Arc<Client>,
        account: Arc<Account>,
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    ) -> Self {
        let sink = match client.is_route {
            true => Sink::Route,
            false => Sink::Connection,
        };
        let (line_start, subject, sid) = match sink {
            Sink::Connection if rnats_proto::subject::is_literal(&subject) => {
                build_line_start(&subject, &sid)
            }
            _ => (Bytes::new(), subject, sid),
        };
        Subscription {
            client,
            sink,
            account,
            deny: None,
            subject,
            queue,
            sid,
            line_start,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            weight: AtomicU32::new(1),
        }
    }

    /// How a delivery's `MSG` line (`HMSG` with `headers`) starts, up to and
    /// with the space after the sid, when it is the same for every message
    /// (see `line_start`).
    #[inline(always)]
    pub fn line_start(&self, headers: bool) -> Option<&[u8]> {
        match (self.line_start.is_empty(), headers) {
            (true, _) => None,
            (false, true) => Some(&self.line_start),
            (false, false) => self.line_start.get(1..),
        }
    }

    /// Whether it stands for a peer's interest (deliveries become `RMSG`).
    #[inline]
    pub fn is_route(&self) -> bool {
        matches!(self.sink, Sink::Route)
    }

    /// Messages delivered to it so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Its `UNSUB <sid> <max>` limit (0: none).
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Members behind a route's queue subscription (1 otherwise).
    #[inline]
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight.max(1), Ordering::Relaxed);
    }

    /// Limits the subscription to `max` deliveries in all, counting those
    /// it already had (as nats-server does). Returns false when it has had
    /// that many already (so it should go now).
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Release);
        self.delivered.load(Ordering::Acquire) < max
    }

    /// Claims one delivery. The counter makes "exactly max messages" hold
    /// even with several publishers at once.
    #[inline]
    pub fn claim(&self) -> Delivery {
        let max = self.max.load(Ordering::Acquire);
        if max == 0 {
            // Unlimited: the count only matters if an `UNSUB <sid> <max>`
            // comes later. A plain load and store (no locked instruction on
            // the hot path) may miss a count when publishers on two cores
            // race, which only shifts such a later limit by that much.
            let n = self.delivered.load(Ordering::Relaxed);
            self.delivered.store(n + 1, Ordering::Relaxed);
            return Delivery::Deliver;
        }
        let n = self.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        match n.cmp(&max) {
            std::cmp::Ordering::Less => Delivery::Deliver,
            std::cmp::Ordering::Equal => Delivery::DeliverLast,
            std::cmp::Ordering::Greater => Delivery::Exhausted,
        }
    }
}

/// `HMSG <subject> <sid> `, and the subject and sid as slices of it.
fn build_line_start(subject: &[u8], sid: &[u8]) -> (Bytes, Bytes, Bytes) {
    const VERB: &[u8] = b"HMSG ";
    let mut line = Vec::with_capacity(VERB.len() + subject.len() + sid.len() + 2);
    line.extend_from_slice(VERB);
    line.extend_from_slice(subject);
    line.push(b' ');
    line.extend_from_slice(sid);
    line.push(b' ');
    let line = Bytes::from(line);
    let subject_at = VERB.len();
    let sid_at = subject_at + subject.len() + 1;
    let subject = line.slice(subject_at..sid_at - 1);
    let sid = line.slice(sid_at..sid_at + sid.len());
    (line, subject, sid)
}

impl Subscription {
    /// Ends the subscription: out of its account's index and its client's
    /// table (unless the sid was reused for a newer subscription).
    pub fn cancel(self: &Arc<Self>) {
        let _hold = crate::route::hold_interest(&self.client.cluster);
        if self.account.sublist.remove(self)
            && let Some(cluster) = &self.client.cluster
        {
            cluster.local_unsub(self);
        }
        let mut subs = crate::sync::lock(&self.client.subs);
        if subs.get(&self.sid).is_some_and(|s| Arc::ptr_eq(s, self)) {
            subs.remove(&self.sid);
        }
    }
}

impl Subscriber for Subscription {
    fn subject(&self) -> &[u8] {
        &self.subject
    }

    fn queue(&self) -> Option<&[u8]> {
        self.queue.as_deref()
    }
}

//! The recently closed connections monitoring shows (`/connz?state=closed`):
//! a bounded ring of snapshots taken when each connection ended, as
//! nats-server keeps them (`max_closed_clients`, 10 000 by default).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{Client, CloseReason, Details};
use crate::accounts::subscription::Subscription;
use crate::stats::Counts;
use crate::sync::lock;

/// nats-server's default for how many closed connections it remembers.
pub const DEFAULT_MAX_CLOSED: usize = 10_000;
/// At most this many of a closed connection's subscriptions are kept for
/// `/connz?state=closed&subs=1` (nats-server keeps all; a peer could then
/// make the ring hold millions).
pub const MAX_CLOSED_SUBS: usize = 1024;

/// A subscription as it was when its connection closed.
#[derive(Debug, Clone)]
pub struct ClosedSub {
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    pub msgs: u64,
}

impl ClosedSub {
    pub fn of(sub: &Subscription) -> Self {
        ClosedSub {
            subject: sub.subject.clone(),
            queue: sub.queue.clone(),
            sid: sub.sid.clone(),
            msgs: sub.delivered(),
        }
    }
}

/// What monitoring shows of a connection at one moment: open ones are
/// snapshotted for each `/connz`, closed ones once, as they close.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: u64,
    pub addr: SocketAddr,
    pub started: SystemTime,
    pub last_activity: SystemTime,
    pub rtt: Duration,
    pub pending: usize,
    pub received: Counts,
    pub sent: Counts,
    pub details: Option<Arc<Details>>,
    pub tls: Option<(String, String)>,
    pub subs: Vec<ClosedSub>,
}

impl Snapshot {
    /// `client` now, with its subscriptions (taken from its table).
    pub fn of(client: &Client) -> Self {
        let subs = lock(&client.subs)
            .values()
            .map(|s| ClosedSub::of(s))
            .collect();
        Self::with_subs(client, subs)
    }

    /// `client` now, with `subs` as its subscriptions.
    pub fn with_subs(client: &Client, subs: Vec<ClosedSub>) -> Self {
        Snapshot {
            id: client.id,
            addr: client.addr,
            started: client.started,
            last_activity: client.last_activity(),
            rtt: client.rtt(),
            pending: client.pending_bytes(),
            received: client.received.get(),
            sent: client.sent(),
            details: client.details(),
            tls: client.tls.get().cloned(),
            subs,
        }
    }
}

/// A connection as it was when it closed.
#[derive(Debug, Clone)]
pub struct Closed {
    pub snapshot: Snapshot,
    pub stopped: SystemTime,
    pub reason: CloseReason,
}

impl Closed {
    /// Takes the snapshot of `client`, whose subscriptions were `subs`.
    pub fn of(client: &Client, subs: Vec<ClosedSub>) -> Self {
        Closed {
            snapshot: Snapshot::with_subs(client, subs),
            stopped: SystemTime::now(),
            reason: client.close_reason(),
        }
    }
}

/// The last closed connections, oldest first, at most `max` of them.
#[derive(Debug)]
pub struct ClosedRing {
    max: usize,
    ring: Mutex<VecDeque<Arc<Closed>>>,
}

impl ClosedRing {
    pub fn new(max: usize) -> Self {
        ClosedRing {
            max,
            ring: Mutex::new(VecDeque::new()),
        }
    }

    pub fn push(&self, closed: Closed) {
        if self.max == 0 {
            return;
        }
        let mut ring = lock(&self.ring);
        while ring.len() >= self.max {
            ring.pop_front();
        }
        ring.push_back(Arc::new(closed));
    }

    /// The snapshots, oldest first.
    pub fn list(&self) -> Vec<Arc<Closed>> {
        lock(&self.ring).iter().cloned().collect()
    }
}

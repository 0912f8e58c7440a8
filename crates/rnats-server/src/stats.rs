//! Traffic counters: what monitoring (`/varz`, `/connz`, `/accstatz`,
//! `/metrics`) and the system account's `STATSZ` report.
//!
//! **The rule that keeps them cheap on the hot path**: nothing here is
//! touched per message. A reader counts what it parsed in plain fields of
//! its session during one read and adds the sums here once per read
//! (`Traffic::add`: two relaxed atomic adds). What is sent is counted once,
//! where it must be anyway: beside each connection's outbound queue, under
//! the lock every delivery already takes (`Outbound::sent`). Totals of what
//! was sent are therefore summed when asked for: the open connections'
//! counts plus what closed ones had (added here when each closes). Readers
//! (an HTTP request, a STATSZ tick) load with relaxed ordering: a snapshot
//! may be a read behind.
//!
//! A leaf: it imports nothing of the crate.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count of messages and their bytes (payload and headers, as
/// nats-server counts them: without the protocol line or the CRLF).
#[derive(Debug, Default)]
pub struct Traffic {
    msgs: AtomicU64,
    bytes: AtomicU64,
}

/// A snapshot of a [`Traffic`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub msgs: u64,
    pub bytes: u64,
}

impl Counts {
    /// Counts one message of `bytes`.
    #[inline(always)]
    pub fn count(&mut self, bytes: usize) {
        self.msgs += 1;
        self.bytes += bytes as u64;
    }

    pub fn is_empty(&self) -> bool {
        self.msgs == 0
    }
}

impl Traffic {
    /// Adds what one read counted.
    #[inline]
    pub fn add(&self, counts: Counts) {
        if counts.msgs != 0 {
            self.msgs.fetch_add(counts.msgs, Ordering::Relaxed);
            self.bytes.fetch_add(counts.bytes, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> Counts {
        Counts {
            msgs: self.msgs.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// A counter of events (slow consumers, stale connections, ...).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Events counted per kind of connection, as nats-server's
/// `slow_consumer_stats` and `stale_connection_stats`.
#[derive(Debug, Default)]
pub struct ByKind {
    pub clients: Counter,
    pub routes: Counter,
}

impl ByKind {
    pub fn inc(&self, route: bool) {
        match route {
            true => self.routes.inc(),
            false => self.clients.inc(),
        }
    }

    pub fn total(&self) -> u64 {
        self.clients.get() + self.routes.get()
    }
}

/// The server's totals.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Messages received from every kind of connection.
    pub received: Traffic,
    /// Messages received from clients.
    pub received_from_clients: Traffic,
    /// Messages that were queued for client connections now closed (the
    /// open ones keep their own count).
    pub sent_to_closed_clients: Traffic,
    /// The same for routes now closed.
    pub sent_to_closed_routes: Traffic,
    pub slow_consumers: ByKind,
    pub stale_connections: ByKind,
    /// Clients accepted since the start (`total_connections`).
    pub total_connections: Counter,
}

/// One account's totals on this server (`/accstatz`).
#[derive(Debug, Default)]
pub struct AccountStats {
    /// Messages its connections published.
    pub received: Traffic,
    /// Messages that were queued for its client connections now closed
    /// (the open ones keep their own count).
    pub sent_to_closed: Traffic,
    pub slow_consumers: Counter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_adds_its_counts_once() {
        let traffic = Traffic::default();
        let mut read = Counts::default();
        read.count(5);
        read.count(11);
        traffic.add(read);
        traffic.add(Counts::default());
        assert_eq!(traffic.get(), Counts { msgs: 2, bytes: 16 });
    }
}

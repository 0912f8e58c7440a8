//! An internal subscriber's inbox: the structured messages delivered to it,
//! waiting for its task, bounded in count and bytes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;
use tracing::warn;

use crate::connection::delivery::{Message, Sizes};
use crate::sync::lock;

use super::InboundMessage;

/// How much may wait in one internal subscriber's inbox. A delivery that
/// would go past either limit is dropped and counted (see
/// [`Inbox::dropped`]); the subscription itself goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLimits {
    /// Messages waiting, at most.
    pub messages: usize,
    /// Bytes waiting (subjects, headers and payloads), at most.
    pub bytes: usize,
}

impl Default for PendingLimits {
    /// nats-server's default pending limits for a subscription of its
    /// clients: 65 536 messages, 64 MiB.
    fn default() -> Self {
        PendingLimits {
            messages: 65_536,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// The messages delivered to one internal subscription, until its task
/// takes them.
pub struct Inbox {
    /// The subscription's subject, for the log.
    subject: Bytes,
    limits: PendingLimits,
    queue: Mutex<Queue>,
    /// Signalled when the queue stops being empty, and at close.
    ready: Notify,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<InboundMessage>,
    bytes: usize,
    closed: bool,
    /// Dropping since the last delivery that fit (one warning per burst).
    dropping: bool,
}

impl Inbox {
    pub(crate) fn new(subject: Bytes, limits: PendingLimits) -> Self {
        Inbox {
            subject,
            limits,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a delivery. False if it was not taken: the inbox is closed,
    /// or full (then it is dropped and counted), so a queue group may try
    /// another member. Off the connections' delivery path, hence cold.
    #[cold]
    #[inline(never)]
    pub(crate) fn push(&self, msg: &Message<'_>, publisher: u64) -> bool {
        let size = msg.subject.len() + msg.reply.map_or(0, <[u8]>::len) + msg.body.len();
        let mut queue = lock(&self.queue);
        if queue.closed {
            return false;
        }
        if queue.messages.len() >= self.limits.messages || queue.bytes + size > self.limits.bytes {
            let first = !std::mem::replace(&mut queue.dropping, true);
            let pending = (queue.messages.len(), queue.bytes);
            drop(queue);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if first {
                warn!(
                    "Internal subscription on {:?} is falling behind: dropping messages \
                     ({} messages, {} bytes pending)",
                    String::from_utf8_lossy(&self.subject),
                    pending.0,
                    pending.1
                );
            }
            return false;
        }
        queue.dropping = false;
        let was_empty = queue.messages.is_empty();
        queue.messages.push_back(inbound(msg, publisher));
        queue.bytes += size;
        drop(queue);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// The next message; None once the inbox is closed and empty.
    pub(crate) async fn recv(&self) -> Option<InboundMessage> {
        loop {
            let ready = self.ready.notified();
            if let Some(next) = self.try_recv() {
                return Some(next);
            }
            if lock(&self.queue).closed {
                return None;
            }
            ready.await;
        }
    }

    /// The next message, if one is waiting.
    pub(crate) fn try_recv(&self) -> Option<InboundMessage> {
        let mut queue = lock(&self.queue);
        let next = queue.messages.pop_front()?;
        queue.bytes = queue.bytes.saturating_sub(next.size());
        Some(next)
    }

    /// Takes no more deliveries; what is queued can still be received.
    pub(crate) fn close(&self) {
        lock(&self.queue).closed = true;
        self.ready.notify_one();
    }

    /// Deliveries dropped because the inbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages waiting.
    pub fn pending(&self) -> usize {
        lock(&self.queue).messages.len()
    }
}

/// The structured form of a delivery. The body (headers and payload) is
/// copied, whatever its size: a slice of the publisher's buffer would keep
/// the whole buffer alive for as long as the message waits in the inbox.
fn inbound(msg: &Message<'_>, publisher: u64) -> InboundMessage {
    let body = Bytes::copy_from_slice(msg.body.of(msg.chunk));
    let header_len = match msg.sizes {
        Sizes::Msg(_) => 0,
        Sizes::HMsg(header, _) => parse_size(header).filter(|&h| h <= body.len()).unwrap_or(0),
    };
    InboundMessage {
        subject: Bytes::copy_from_slice(msg.subject),
        reply: msg.reply.map(Bytes::copy_from_slice),
        headers: (header_len > 0).then(|| body.slice(..header_len)),
        payload: body.slice(header_len..),
        publisher,
    }
}

/// The decimal size a publisher wrote (the parser checked its digits).
fn parse_size(digits: &[u8]) -> Option<usize> {
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(usize::from(d - b'0')))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnats_proto::parser::Span;

    fn message<'a>(chunk: &'a Bytes, sizes: Sizes<'a>) -> Message<'a> {
        Message {
            chunk,
            subject: b"a.b",
            reply: Some(b"_INBOX.1"),
            sizes,
            body: Span {
                start: 0,
                end: chunk.len(),
            },
            tail: None,
        }
    }

    #[test]
    fn headers_and_payload_are_split() {
        let chunk = Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\nhello");
        let msg = message(&chunk, Sizes::HMsg(b"18", b"23"));
        let inbound = inbound(&msg, 0);
        assert_eq!(&inbound.subject[..], b"a.b");
        assert_eq!(inbound.reply.as_deref(), Some(&b"_INBOX.1"[..]));
        assert_eq!(
            inbound.headers.as_deref(),
            Some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..])
        );
        assert_eq!(&inbound.payload[..], b"hello");
        let plain = inbound_of(b"hello", Sizes::Msg(b"5"));
        assert_eq!(plain.headers, None);
        assert_eq!(&plain.payload[..], b"hello");
    }

    fn inbound_of(body: &'static [u8], sizes: Sizes<'static>) -> InboundMessage {
        let chunk = Bytes::from_static(body);
        inbound(&message(&chunk, sizes), 0)
    }

    #[test]
    fn sizes_are_parsed_without_trusting_them() {
        assert_eq!(parse_size(b"123"), Some(123));
        assert_eq!(parse_size(b"1x"), None);
        assert_eq!(parse_size(b"99999999999999999999999"), None);
        // A header size past the body is no header.
        let odd = inbound_of(b"abc", Sizes::HMsg(b"9", b"3"));
        assert_eq!(odd.headers, None);
        assert_eq!(&odd.payload[..], b"abc");
    }

    #[test]
    fn a_full_inbox_drops_and_counts() {
        let limits = PendingLimits {
            messages: 2,
            bytes: 1024,
        };
        let inbox = Inbox::new(Bytes::from_static(b"a.b"), limits);
        let chunk = Bytes::from_static(b"x");
        let msg = message(&chunk, Sizes::Msg(b"1"));
        assert!(inbox.push(&msg, 0));
        assert!(inbox.push(&msg, 0));
        assert!(!inbox.push(&msg, 0));
        assert_eq!((inbox.pending(), inbox.dropped()), (2, 1));
        assert!(inbox.try_recv().is_some());
        assert!(inbox.push(&msg, 0));
        // Bytes count too.
        let big = Bytes::from(vec![b'x'; 2000]);
        let inbox = Inbox::new(Bytes::from_static(b"a.b"), limits);
        assert!(!inbox.push(&message(&big, Sizes::Msg(b"2000")), 0));
        assert_eq!(inbox.dropped(), 1);
    }

    #[tokio::test]
    async fn recv_waits_and_ends_after_close() {
        let inbox = std::sync::Arc::new(Inbox::new(
            Bytes::from_static(b"a.b"),
            PendingLimits::default(),
        ));
        let reader = {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(m) = inbox.recv().await {
                    got.push(m.payload);
                }
                got
            })
        };
        let chunk = Bytes::from_static(b"1");
        tokio::task::yield_now().await;
        assert!(inbox.push(&message(&chunk, Sizes::Msg(b"1")), 0));
        inbox.close();
        assert!(!inbox.push(&message(&chunk, Sizes::Msg(b"1")), 0));
        let got = reader.await.expect("reader");
        assert_eq!(got, vec![Bytes::from_static(b"1")]);
    }
}

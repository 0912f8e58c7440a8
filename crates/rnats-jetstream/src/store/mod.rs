//! The message store: where a stream's messages are kept, in sequence.
//!
//! [`Store`] is what a stream asks of its storage; [`memory::MemoryStore`]
//! keeps messages in memory and [`file`](mod@file) on disk in message blocks laid out
//! after nats-server's filestore. A store knows nothing of stream
//! configuration: limits (`max_msgs`, `max_age`, ...) are the stream's
//! policy, carried out with the store's primitives (remove the first
//! message, the first of a subject, those stored before a time). It is
//! synchronous and single-owner (`&mut self`): a stream holds its store and
//! serialises every operation on it.
//!
//! **Invariants** every implementation keeps (and `conformance` checks):
//! - sequences are assigned in order from [`StoreState::last_seq`] + 1 and
//!   never reused, even after the last message is removed or purged;
//! - [`StoreState`] counts exactly the messages [`Store::get`] returns:
//!   `msgs`, `bytes` (each message counted as nats-server's store of the
//!   same kind counts it, so both servers report the same `bytes`), `first_seq`..=`last_seq`, and
//!   `num_deleted` = the sequences in between that are gone;
//! - when the store is empty, `first_seq` is `last_seq + 1` (nats-server's
//!   convention), except a fresh store where both are 0;
//! - a message is either returned whole and as appended, or not at all.
//!
//! **Owns**: message bytes and their indexes. **May not touch**: the server,
//! the API, stream configuration.

pub mod file;
pub mod memory;

#[cfg(test)]
pub(crate) mod conformance;

use bytes::Bytes;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub subject: Bytes,
    /// The header block (`NATS/1.0\r\n...\r\n\r\n`), empty when none.
    pub headers: Bytes,
    pub payload: Bytes,
    /// When it was stored, in nanoseconds since the Unix epoch.
    pub time: i64,
}

/// What a store holds, as a stream's `state` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreState {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    /// Nanoseconds since the Unix epoch; 0 when empty.
    pub first_time: i64,
    pub last_seq: u64,
    pub last_time: i64,
    /// Sequences between `first_seq` and `last_seq` that were removed.
    pub num_deleted: u64,
    /// Distinct subjects among the stored messages.
    pub num_subjects: u64,
}

/// The messages of one literal subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectInfo {
    pub msgs: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// What [`Store::purge`] removes: every message (optionally only those
/// matching `filter`) below sequence `seq` if given, else all but the
/// newest `keep` if given, else all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purge {
    pub filter: Option<String>,
    pub seq: Option<u64>,
    pub keep: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No message with that sequence (never stored, or removed).
    #[error("no message found")]
    NotFound,
    /// The store's size limit or the disk is full: nothing was stored.
    #[error("insufficient resources")]
    InsufficientResources,
    /// Data on disk that fails its checksum or cannot be decoded.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Encryption at rest cannot open the store (nats-server's texts:
    /// a wrong key, a missing key).
    #[error("{0}")]
    Encryption(&'static str),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A stream's storage. See the module doc for the invariants.
pub trait Store: Send + 'static {
    /// Stores a message at the next sequence and returns that sequence.
    /// `time` is when it was received (ns since the epoch); `ttl` is its
    /// own time to live in seconds (`Nats-TTL`), 0 for none. Appends may be
    /// buffered until [`Store::flush`], and are only durable after it: one
    /// that a failed flush drops has its sequence given again.
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        time: i64,
        ttl: i64,
    ) -> Result<u64, StoreError>;

    /// Hands every buffered append to the operating system (so it survives
    /// the process being killed) and, when the store syncs always, to the
    /// disk. A stream calls it before it acknowledges what it appended.
    ///
    /// When it fails (a full disk gives [`StoreError::InsufficientResources`])
    /// the appends since the last successful flush are forgotten: they
    /// were never acknowledged, and their sequences are given again to the
    /// next appends. What an earlier flush wrote is kept, removals stay
    /// done, and the store works again once the cause is gone.
    fn flush(&mut self) -> Result<(), StoreError>;

    /// Makes what was flushed durable on the disk (fsync) and saves the
    /// store's state for a fast restart. A stream calls it every
    /// `sync_interval`; stores without files have nothing to do.
    fn sync_to_disk(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&mut self, seq: u64) -> Result<StoredMsg, StoreError>;

    /// The first message at or after `start` whose subject matches
    /// `filter` (wildcards allowed; `>` or empty matches all).
    fn next_matching(&mut self, start: u64, filter: &str) -> Result<StoredMsg, StoreError>;

    /// The last message whose subject matches `filter`.
    fn last_matching(&mut self, filter: &str) -> Result<StoredMsg, StoreError>;

    /// Removes one message; `erase` overwrites its bytes on disk. Ok(false)
    /// when there was no such message. Like every removal (purge, expiry),
    /// it is durable after the next [`Store::flush`].
    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError>;

    /// Removes what `purge` says and returns how many messages went. When
    /// `seq` is beyond the last sequence and no filter is given, the store
    /// is emptied and the next message gets `seq` (this is also how a new
    /// stream's `first_seq` is set).
    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError>;

    /// Removes every message stored before `time` (ns since the epoch);
    /// returns how many.
    fn expire_before(&mut self, time: i64) -> Result<u64, StoreError>;

    /// Removes every message whose own time to live (the `ttl` it was
    /// appended with) has run out by `now`; returns how many. A store that
    /// is reopened recovers each message's TTL from its `Nats-TTL` header.
    fn expire_ttls(&mut self, now: i64) -> Result<u64, StoreError>;

    /// When the next message's own TTL runs out (ns since the epoch).
    fn next_ttl_expiry(&self) -> Option<i64>;

    fn state(&self) -> StoreState;

    /// The messages of one literal subject, None when it has none.
    fn subject_info(&mut self, subject: &[u8]) -> Option<SubjectInfo>;

    /// Message counts of every subject matching `filter`.
    fn subjects(&mut self, filter: &str) -> Vec<(Bytes, u64)>;

    /// The removed sequences between first and last, ascending.
    fn deleted(&mut self) -> Vec<u64>;

    /// Flushes and releases the store's files; the data stays.
    fn close(&mut self) -> Result<(), StoreError>;

    /// Removes the store and its data.
    fn destroy(self: Box<Self>) -> Result<(), StoreError>;
}

/// The counts of the subjects matching `filter`, sorted by subject (what
/// [`Store::subjects`] returns, from a store's per-subject index).
pub(crate) fn subject_counts<'a>(
    subjects: impl Iterator<Item = (&'a Bytes, u64)>,
    filter: &str,
) -> Vec<(Bytes, u64)> {
    let mut out: Vec<(Bytes, u64)> = subjects
        .filter(|(s, _)| filter_matches(filter, s))
        .map(|(s, n)| (s.clone(), n))
        .collect();
    out.sort();
    out
}

/// Whether `subject` is matched by a stream filter: empty and `>` match all.
pub fn filter_matches(filter: &str, subject: &[u8]) -> bool {
    filter.is_empty()
        || filter == ">"
        || rnats_proto::subject::pattern_matches(filter.as_bytes(), subject)
}

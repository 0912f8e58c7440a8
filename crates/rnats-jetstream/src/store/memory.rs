//! [`MemoryStore`]: a stream's messages in memory (`storage: memory`).
//!
//! Messages live in a map ordered by sequence; a second map from subject to
//! its [`SubjectInfo`] answers per-subject limits and "last by subject"
//! without a scan. A subject's `first_seq` is advanced lazily: removing a
//! subject's first message marks it stale, and the next question about
//! that subject walks forward from the old first to find the new one.
//!
//! Sizes are counted as nats-server's memory store counts them
//! ([`msg_size`]), so `bytes` and `max_bytes` agree between the servers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::{Bytes, BytesMut};

use super::{
    Purge, Store, StoreError, StoreState, StoredMsg, SubjectInfo, filter_matches, subject_counts,
};

/// What a message counts for: subject, headers, payload and 16 bytes for
/// its sequence and timestamp.
pub fn msg_size(subject: usize, headers: usize, payload: usize) -> u64 {
    (subject + headers + payload + 16) as u64
}

#[derive(Debug, Clone, Copy)]
struct PerSubject {
    msgs: u64,
    first_seq: u64,
    last_seq: u64,
    /// `first_seq` may name a removed message: walk forward from it.
    first_stale: bool,
}

/// A [`Store`] in memory, with an optional byte limit (`max_memory_store`).
#[derive(Debug, Default)]
pub struct MemoryStore {
    msgs: BTreeMap<u64, StoredMsg>,
    subjects: HashMap<Bytes, PerSubject>,
    /// (expiry, seq) of messages with their own TTL.
    ttls: BTreeSet<(i64, u64)>,
    ttl_of: HashMap<u64, i64>,
    state: StoreState,
    /// Total bytes this store may hold; 0 for no limit.
    limit: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A store that refuses appends past `bytes` with
    /// [`StoreError::InsufficientResources`].
    pub fn with_limit(bytes: u64) -> Self {
        MemoryStore {
            limit: bytes,
            ..MemoryStore::default()
        }
    }

    fn take(&mut self, seq: u64) -> Option<StoredMsg> {
        let msg = self.msgs.remove(&seq)?;
        let size = msg_size(msg.subject.len(), msg.headers.len(), msg.payload.len());
        self.state.msgs -= 1;
        self.state.bytes -= size;
        if let Some(expiry) = self.ttl_of.remove(&seq) {
            self.ttls.remove(&(expiry, seq));
        }
        if let Some(per) = self.subjects.get_mut(&msg.subject) {
            per.msgs -= 1;
            if per.msgs == 0 {
                self.subjects.remove(&msg.subject);
            } else if per.first_seq == seq {
                per.first_stale = true;
            }
            // A subject's last is only ever removed with it being recomputed
            // on the spot: walking back is short in practice (the last
            // message of a subject is rarely removed alone).
            if let Some(per) = self.subjects.get(&msg.subject).copied()
                && per.last_seq == seq
            {
                let last = self
                    .msgs
                    .range(..seq)
                    .rev()
                    .find(|(_, m)| m.subject == msg.subject)
                    .map(|(s, _)| *s);
                if let (Some(last), Some(p)) = (last, self.subjects.get_mut(&msg.subject)) {
                    p.last_seq = last;
                }
            }
        }
        self.fix_ends();
        Some(msg)
    }

    /// Keeps `first_seq`, `first_time` and `num_deleted` true after removals.
    fn fix_ends(&mut self) {
        match self.msgs.first_key_value() {
            Some((seq, msg)) => {
                self.state.first_seq = *seq;
                self.state.first_time = msg.time;
            }
            None => {
                self.state.first_seq = self.state.last_seq + 1;
                self.state.first_time = 0;
            }
        }
        self.state.num_deleted = if self.state.msgs == 0 {
            0
        } else {
            self.state.last_seq + 1 - self.state.first_seq - self.state.msgs
        };
        self.state.num_subjects = self.subjects.len() as u64;
    }

    fn per_subject(&mut self, subject: &[u8]) -> Option<PerSubject> {
        let per = *self.subjects.get(subject)?;
        if !per.first_stale {
            return Some(per);
        }
        let first = self
            .msgs
            .range(per.first_seq..=per.last_seq)
            .find(|(_, m)| m.subject == subject)
            .map(|(s, _)| *s)?;
        let per = self.subjects.get_mut(subject)?;
        per.first_seq = first;
        per.first_stale = false;
        Some(*per)
    }

    fn remove_many(&mut self, seqs: Vec<u64>) -> u64 {
        let mut removed = 0;
        for seq in seqs {
            if self.take(seq).is_some() {
                removed += 1;
            }
        }
        removed
    }
}

impl Store for MemoryStore {
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        time: i64,
        ttl: i64,
    ) -> Result<u64, StoreError> {
        let size = msg_size(subject.len(), headers.len(), payload.len());
        if self.limit > 0 && self.state.bytes + size > self.limit {
            return Err(StoreError::InsufficientResources);
        }
        // One allocation holds the three parts.
        let mut buf = BytesMut::with_capacity(subject.len() + headers.len() + payload.len());
        buf.extend_from_slice(subject);
        buf.extend_from_slice(headers);
        buf.extend_from_slice(payload);
        let mut buf = buf.freeze();
        let subject = buf.split_to(subject.len());
        let headers = buf.split_to(headers.len());
        let seq = self.state.last_seq + 1;
        match self.subjects.get_mut(&subject) {
            Some(per) => {
                per.msgs += 1;
                per.last_seq = seq;
            }
            None => {
                self.subjects.insert(
                    subject.clone(),
                    PerSubject {
                        msgs: 1,
                        first_seq: seq,
                        last_seq: seq,
                        first_stale: false,
                    },
                );
            }
        }
        if ttl > 0 {
            let expiry = time.saturating_add(ttl.saturating_mul(1_000_000_000));
            self.ttls.insert((expiry, seq));
            self.ttl_of.insert(seq, expiry);
        }
        self.msgs.insert(
            seq,
            StoredMsg {
                seq,
                subject,
                headers,
                payload: buf,
                time,
            },
        );
        self.state.msgs += 1;
        self.state.bytes += size;
        self.state.last_seq = seq;
        self.state.last_time = time;
        self.fix_ends();
        Ok(seq)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&mut self, seq: u64) -> Result<StoredMsg, StoreError> {
        self.msgs.get(&seq).cloned().ok_or(StoreError::NotFound)
    }

    fn next_matching(&mut self, start: u64, filter: &str) -> Result<StoredMsg, StoreError> {
        if !filter.is_empty() && rnats_proto::subject::is_literal(filter.as_bytes()) {
            let per = self
                .per_subject(filter.as_bytes())
                .ok_or(StoreError::NotFound)?;
            if start > per.last_seq {
                return Err(StoreError::NotFound);
            }
            return self
                .msgs
                .range(start.max(per.first_seq)..=per.last_seq)
                .find(|(_, m)| m.subject == filter.as_bytes())
                .map(|(_, m)| m.clone())
                .ok_or(StoreError::NotFound);
        }
        self.msgs
            .range(start..)
            .find(|(_, m)| filter_matches(filter, &m.subject))
            .map(|(_, m)| m.clone())
            .ok_or(StoreError::NotFound)
    }

    fn last_matching(&mut self, filter: &str) -> Result<StoredMsg, StoreError> {
        if !filter.is_empty() && rnats_proto::subject::is_literal(filter.as_bytes()) {
            let per = self
                .per_subject(filter.as_bytes())
                .ok_or(StoreError::NotFound)?;
            return self.get(per.last_seq);
        }
        self.msgs
            .values()
            .rev()
            .find(|m| filter_matches(filter, &m.subject))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn remove(&mut self, seq: u64, _erase: bool) -> Result<bool, StoreError> {
        Ok(self.take(seq).is_some())
    }

    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError> {
        let filter = purge.filter.as_deref().unwrap_or("");
        let all = filter.is_empty() || filter == ">";
        let mut seqs: Vec<u64> = self
            .msgs
            .iter()
            .filter(|(_, m)| all || filter_matches(filter, &m.subject))
            .map(|(s, _)| *s)
            .collect();
        if let Some(below) = purge.seq {
            seqs.retain(|s| *s < below);
        } else if let Some(keep) = purge.keep {
            let keep = usize::try_from(keep).unwrap_or(usize::MAX).min(seqs.len());
            seqs.truncate(seqs.len() - keep);
        }
        let removed = self.remove_many(seqs);
        if all
            && let Some(next) = purge.seq
            && next > self.state.last_seq
        {
            // Purged up to a sequence past the end: the next message gets it.
            self.state.last_seq = next - 1;
            self.fix_ends();
        }
        Ok(removed)
    }

    fn expire_before(&mut self, time: i64) -> Result<u64, StoreError> {
        let seqs: Vec<u64> = self
            .msgs
            .iter()
            .take_while(|(_, m)| m.time < time)
            .map(|(s, _)| *s)
            .collect();
        Ok(self.remove_many(seqs))
    }

    fn expire_ttls(&mut self, now: i64) -> Result<u64, StoreError> {
        let seqs: Vec<u64> = self
            .ttls
            .iter()
            .take_while(|(expiry, _)| *expiry <= now)
            .map(|(_, seq)| *seq)
            .collect();
        Ok(self.remove_many(seqs))
    }

    fn next_ttl_expiry(&self) -> Option<i64> {
        self.ttls.first().map(|(expiry, _)| *expiry)
    }

    fn state(&self) -> StoreState {
        self.state
    }

    fn subject_info(&mut self, subject: &[u8]) -> Option<SubjectInfo> {
        self.per_subject(subject).map(|p| SubjectInfo {
            msgs: p.msgs,
            first_seq: p.first_seq,
            last_seq: p.last_seq,
        })
    }

    fn subjects(&mut self, filter: &str) -> Vec<(Bytes, u64)> {
        subject_counts(self.subjects.iter().map(|(s, p)| (s, p.msgs)), filter)
    }

    fn deleted(&mut self) -> Vec<u64> {
        if self.state.msgs == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.state.num_deleted as usize);
        let mut next = self.state.first_seq;
        for seq in self.msgs.keys() {
            out.extend(next..*seq);
            next = seq + 1;
        }
        out.extend(next..=self.state.last_seq);
        out
    }

    fn close(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conforms() {
        crate::store::conformance::check_all(&mut || Box::new(MemoryStore::new()));
    }

    #[test]
    fn a_limit_refuses_without_losing_anything() {
        let mut store = MemoryStore::with_limit(100);
        store.append(b"a", b"", &[0; 40], 1, 0).unwrap();
        assert!(matches!(
            store.append(b"a", b"", &[0; 60], 2, 0),
            Err(StoreError::InsufficientResources)
        ));
        assert_eq!(store.state().msgs, 1);
        store.remove(1, false).unwrap();
        store.append(b"a", b"", &[0; 60], 3, 0).unwrap();
        assert_eq!(store.state().last_seq, 2);
    }
}

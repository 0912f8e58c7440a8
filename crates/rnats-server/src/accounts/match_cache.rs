//! A connection's memo of what the subjects it publishes to match: the last
//! subject and its result (a repeated subject costs a comparison), then a
//! bounded map, valid while the account index's generation is unchanged.
//! Results are borrowed, so a hit touches no reference count. Used by
//! client sessions (their account) and route sessions (the account of each
//! routed message).

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::Account;
use crate::accounts::subscription::Subscription;
use crate::sublist::Matches;

/// Match results a connection remembers for the subjects it publishes to.
const LOCAL_CACHE_SIZE: usize = 512;

/// A per-connection memo of subscription-index lookups, valid while the
/// index's generation does not change.
pub(crate) struct MatchCache {
    generation: u64,
    entries: HashMap<Box<[u8]>, Arc<Matches<Subscription>>>,
    /// The last subject looked up and its result: publishers mostly
    /// repeat a subject, and comparing bytes is cheaper than hashing.
    last_subject: Vec<u8>,
    last: Option<Arc<Matches<Subscription>>>,
}

impl MatchCache {
    pub(crate) fn new() -> Self {
        MatchCache {
            generation: u64::MAX,
            entries: HashMap::new(),
            last_subject: Vec::new(),
            last: None,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.last = None;
    }

    /// What `subject` matches in `account`, borrowed from the cache (no
    /// reference count is touched on a hit). The hit on the last subject is
    /// inlined into the caller; the rest is [`MatchCache::look_further`].
    #[inline(always)]
    pub(crate) fn lookup(&mut self, account: &Account, subject: &[u8]) -> &Matches<Subscription> {
        let generation = account.sublist.generation();
        if self.generation != generation
            || self.last.is_none()
            || !same_bytes(&self.last_subject, subject)
        {
            self.look_further(account, subject, generation);
        }
        match &self.last {
            Some(m) => m,
            None => unreachable_matches(),
        }
    }

    /// The map, then the account's index; sets `last`.
    #[inline(never)]
    fn look_further(&mut self, account: &Account, subject: &[u8], generation: u64) {
        if self.generation != generation {
            self.clear();
            self.generation = generation;
        }
        let matches = match self.entries.get(subject) {
            Some(m) => m.clone(),
            None => {
                let m = account.sublist.matches(subject);
                if self.entries.len() >= LOCAL_CACHE_SIZE {
                    self.entries.clear();
                }
                self.entries.insert(subject.into(), m.clone());
                m
            }
        };
        self.last_subject.clear();
        self.last_subject.extend_from_slice(subject);
        self.last = Some(matches);
    }
}

/// `a == b`, without a call to `memcmp` for the short subjects most
/// messages have (up to 16 bytes: two overlapping words of 4 or 8 bytes).
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
        let mut w = [0u8; N];
        w.copy_from_slice(&s[at..at + N]);
        w
    }
    match a.len() {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        n @ 4..8 => {
            word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4)
        }
        n @ 8..=16 => {
            word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8)
        }
        _ => a == b,
    }
}

/// Never reached (`last` was just set); an empty result keeps it panic-free.
#[cold]
fn unreachable_matches() -> &'static Matches<Subscription> {
    static EMPTY: std::sync::OnceLock<Matches<Subscription>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Matches::default)
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    /// The short compare agrees with `==` at every length and wherever two
    /// subjects differ.
    #[test]
    fn same_bytes_is_equality() {
        for len in 0..40usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} {at}");
            }
            let mut longer = a.clone();
            longer.push(b'x');
            assert!(!same_bytes(&a, &longer));
        }
    }
}

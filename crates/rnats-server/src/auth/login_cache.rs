//! A cache of successful bcrypt logins, so that a client reconnecting with
//! the same credentials does not cost ~0.1 s of CPU each time.
//!
//! What it stores is a keyed hash (HMAC-SHA-256 under a random key made at
//! start and kept only in memory) of the stored bcrypt hash and the
//! presented secret — never the secret itself. Only successes are cached,
//! so a wrong guess always pays the full bcrypt price. The cache is bounded
//! and a reload keeps it: entries are keyed by the stored hash, so a
//! rotated password or a removed user never matches an old entry, and the
//! reload's re-check of every connected bcrypt client costs an HMAC each,
//! not a bcrypt each.
//!
//! The trade-off: someone who can read the server's memory could test
//! guesses against an entry at HMAC speed instead of bcrypt speed. The
//! config file, which is what bcrypt protects at rest, gains nothing from
//! the cache. Turn it off with `no_login_cache: true` (or
//! `--no_login_cache`) to keep every login at bcrypt cost.

use std::collections::HashSet;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::sync::lock;

/// Entries kept at most; the set is emptied when full (cheap, and a
/// reconnecting client just pays bcrypt once more).
const MAX_ENTRIES: usize = 16 * 1024;

type Entry = [u8; 32];

pub struct LoginCache {
    key: [u8; 32],
    verified: Mutex<HashSet<Entry>>,
}

impl LoginCache {
    pub fn new() -> Self {
        LoginCache {
            key: rand::random(),
            verified: Mutex::new(HashSet::new()),
        }
    }

    fn entry(&self, stored_hash: &str, presented: &str) -> Entry {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(stored_hash.as_bytes());
        mac.update(&[0]);
        mac.update(presented.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether this secret was already verified against this hash.
    pub fn contains(&self, stored_hash: &str, presented: &str) -> bool {
        let entry = self.entry(stored_hash, presented);
        lock(&self.verified).contains(&entry)
    }

    /// Remembers a successful verification.
    pub fn insert(&self, stored_hash: &str, presented: &str) {
        let entry = self.entry(stored_hash, presented);
        let mut verified = lock(&self.verified);
        if verified.len() >= MAX_ENTRIES {
            verified.clear();
        }
        verified.insert(entry);
    }

    pub fn clear(&self) {
        lock(&self.verified).clear();
    }

    pub fn len(&self) -> usize {
        lock(&self.verified).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for LoginCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_exact_pair() {
        let cache = LoginCache::new();
        assert!(!cache.contains("$2a$04$hash", "secret"));
        cache.insert("$2a$04$hash", "secret");
        assert!(cache.contains("$2a$04$hash", "secret"));
        assert!(!cache.contains("$2a$04$hash", "secreT"));
        assert!(!cache.contains("$2a$04$other", "secret"));
        // The separator keeps (hash, secret) pairs from running together.
        assert!(!cache.contains("$2a$04$hashs", "ecret"));
    }

    #[test]
    fn stores_no_secret_and_stays_bounded() {
        let cache = LoginCache::new();
        for i in 0..MAX_ENTRIES + 10 {
            cache.insert("$2a$04$hash", &format!("pw{i}"));
        }
        assert!(cache.len() <= MAX_ENTRIES);
        let dump = format!("{:?}", lock(&cache.verified));
        assert!(!dump.contains("pw1"), "entries are hashes, not secrets");
    }

    #[test]
    fn two_caches_key_differently() {
        let (a, b) = (LoginCache::new(), LoginCache::new());
        assert_ne!(a.entry("h", "s"), b.entry("h", "s"));
    }
}

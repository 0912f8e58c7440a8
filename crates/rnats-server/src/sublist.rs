//! The subscription index: which subscriptions does a message published on
//! a subject go to?
//!
//! A [`Sublist`] is a trie over subject tokens, as in nats-server's
//! `server/sublist.go`. Each level maps literal tokens to child nodes and has
//! two dedicated slots for the `*` and `>` wildcards; each node holds the
//! subscriptions whose subject ends there, plain ones in a list and queue
//! subscriptions grouped by queue name. Matching a literal subject walks the
//! literal, `*` and `>` branches of every level, and the result is kept in a
//! bounded cache keyed by subject.
//!
//! It is generic over the [`Subscriber`] type so it can be tested alone.
//!
//! # Many subscriptions at one node
//!
//! A node keeps its subscriptions in a list (what a match copies); past
//! 32 of them it also keeps an index from each subscription's pointer to
//! its place in the list, so adding and removing stay constant-time when
//! one subject gathers hundreds of thousands (the index always maps
//! exactly the list's pointers).
//!
//! # Concurrency
//!
//! The trie sits behind a `RwLock`, the cache behind another. A cache hit
//! takes only the cache's read lock. A miss computes its result and stores it
//! in the cache *while still holding the trie's read lock*; inserts and
//! removes hold the trie's write lock while they change the trie and drop the
//! affected cache entries. So a result is only ever stored while the trie it
//! was computed from is unchanged, and any later change evicts it: a stale
//! result can never be cached. Locks are always taken trie first, then cache.
//!
//! [`Sublist::generation`] is bumped after the cache has been updated, still
//! under the trie's write lock, so a caller that reads the generation
//! (Acquire) and then calls [`Sublist::matches`] gets a result at least as new
//! as that generation, and can keep its own per-connection cache tagged with
//! it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rnats_proto::subject::{
    FULL_WILDCARD, PARTIAL_WILDCARD, TOKEN_SEPARATOR, is_literal, is_valid_subject,
};

/// The cache holds at most this many subjects ...
const CACHE_MAX: usize = 1024;
/// ... and is cut down to this many when it is full.
const CACHE_SWEEP_TO: usize = 256;
/// Removing more wildcard subscriptions than this at once clears the whole
/// cache instead of scanning it once per subscription.
const REMOVE_ALL_SCAN_LIMIT: usize = 8;

/// What the index needs to know about a subscription. Both values must stay
/// the same from [`Sublist::insert`] to [`Sublist::remove`].
pub trait Subscriber: Send + Sync + 'static {
    /// The subscribed subject, possibly with wildcards.
    fn subject(&self) -> &[u8];
    /// The queue group, if any.
    fn queue(&self) -> Option<&[u8]>;
}

/// The subject given to [`Sublist::insert`] is not a valid subscription
/// subject (see [`rnats_proto::subject::is_valid_subject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSubject;

impl fmt::Display for InvalidSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid subject")
    }
}

impl std::error::Error for InvalidSubject {}

/// The subscriptions a subject matches.
#[derive(Debug)]
pub struct Matches<S> {
    /// Subscriptions without a queue group; each gets the message.
    pub plain: Vec<Arc<S>>,
    /// One entry per distinct queue name; one member of each gets it.
    pub queues: Vec<QueueGroup<S>>,
}

/// The matching members of one queue group.
#[derive(Debug)]
pub struct QueueGroup<S> {
    /// The queue name.
    pub name: Box<[u8]>,
    /// The matching subscriptions in this group; never empty in a result.
    pub members: Vec<Arc<S>>,
}

impl<S> Matches<S> {
    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

impl<S> Default for Matches<S> {
    fn default() -> Self {
        Matches {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

/// Cached match results by subject.
type Cache<S> = HashMap<Box<[u8]>, Arc<Matches<S>>>;

/// The subscription index. Share it as `Arc<Sublist<S>>`.
pub struct Sublist<S: Subscriber> {
    trie: RwLock<Level<S>>,
    cache: RwLock<Cache<S>>,
    generation: AtomicU64,
    count: AtomicUsize,
    /// Returned for subjects that cannot match anything.
    empty: Arc<Matches<S>>,
    /// For monitoring (`/subsz`): changes, and lookups (callers keep their
    /// own caches in front, so these are not per message).
    inserts: AtomicU64,
    removes: AtomicU64,
    lookups: AtomicU64,
    cache_hits: AtomicU64,
}

/// What monitoring reports of an index (nats-server's `SublistStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub subscriptions: usize,
    /// Subjects whose matches are cached.
    pub cached: usize,
    pub inserts: u64,
    pub removes: u64,
    pub lookups: u64,
    /// Of `lookups`, answered from the cache.
    pub cache_hits: u64,
    /// The most subscriptions, and the mean, a cached subject matched.
    pub max_fanout: usize,
    pub avg_fanout: f64,
}

impl<S: Subscriber> Default for Sublist<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Subscriber> fmt::Debug for Sublist<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("count", &self.count())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl<S: Subscriber> Sublist<S> {
    /// An empty index.
    pub fn new() -> Self {
        Sublist {
            trie: RwLock::new(Level::default()),
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            empty: Arc::new(Matches::default()),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    /// Calls `f` with every subscription in the index (under its read lock:
    /// `f` must not touch the index).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<S>)) {
        let trie = self.read_trie();
        let mut levels = vec![&*trie];
        while let Some(level) = levels.pop() {
            let nodes = level
                .literals
                .values()
                .chain(level.pwc.as_deref())
                .chain(level.fwc.as_deref());
            for node in nodes {
                node.plain.list.iter().for_each(&mut f);
                for group in &node.queues {
                    group.members.list.iter().for_each(&mut f);
                }
                levels.push(&node.next);
            }
        }
    }

    /// Counts for monitoring.
    pub fn stats(&self) -> Stats {
        let cache = self.read_cache();
        let fanouts = cache
            .values()
            .map(|m| m.plain.len() + m.queues.iter().map(|q| q.members.len()).sum::<usize>());
        let (max_fanout, total) = fanouts.fold((0, 0), |(max, sum), n| (max.max(n), sum + n));
        let cached = cache.len();
        Stats {
            subscriptions: self.count(),
            cached,
            inserts: self.inserts.load(Ordering::Relaxed),
            removes: self.removes.load(Ordering::Relaxed),
            lookups: self.lookups.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            max_fanout,
            avg_fanout: if cached == 0 {
                0.0
            } else {
                total as f64 / cached as f64
            },
        }
    }

    /// Adds a subscription. Inserting the same `Arc` twice (by pointer) is a
    /// no-op the second time.
    pub fn insert(&self, sub: Arc<S>) -> Result<(), InvalidSubject> {
        if !is_valid_subject(sub.subject()) {
            return Err(InvalidSubject);
        }
        let mut trie = self.write_trie();
        let node = trie.node_for_insert(sub.subject());
        if !node.add(sub.clone()) {
            return Ok(());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.invalidate(&[sub.subject()]);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        Ok(())
    }

    /// Removes a subscription (found by pointer identity). Returns whether it
    /// was there.
    pub fn remove(&self, sub: &Arc<S>) -> bool {
        let mut trie = self.write_trie();
        if !trie.remove(sub) {
            return false;
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.removes.fetch_add(1, Ordering::Relaxed);
        self.invalidate(&[sub.subject()]);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        true
    }

    /// Removes all of `subs` that are present, under a single lock; meant for
    /// closing a connection. `subs` keeps only those this call removed: a
    /// concurrent [`Sublist::remove`] may have taken some already, and only
    /// one of the two may count each as gone.
    pub fn remove_all(&self, subs: &mut Vec<Arc<S>>) {
        let mut trie = self.write_trie();
        subs.retain(|sub| trie.remove(sub));
        if subs.is_empty() {
            return;
        }
        self.count.fetch_sub(subs.len(), Ordering::Relaxed);
        self.removes.fetch_add(subs.len() as u64, Ordering::Relaxed);
        let subjects: Vec<&[u8]> = subs.iter().map(|s| s.subject()).collect();
        self.invalidate(&subjects);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
    }

    /// The subscriptions matching the literal subject `subject`.
    ///
    /// Results are cached; a cache hit does not allocate. An empty subject or
    /// one with an empty token matches nothing. Wildcard tokens in `subject`
    /// are not wildcards here: a `*` token is matched like any other token
    /// (so it reaches `*` and `>` subscriptions but not literal ones), which
    /// is what nats-server 2.9 does with a non-pedantic publish to `foo.*`.
    pub fn matches(&self, subject: &[u8]) -> Arc<Matches<S>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self.read_cache().get(subject) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return hit.clone();
        }
        if subject.is_empty()
            || subject
                .split(|&b| b == TOKEN_SEPARATOR)
                .any(<[u8]>::is_empty)
        {
            return self.empty.clone();
        }
        // Hold the trie's read lock until the result is cached, so that no
        // insert/remove can happen between computing and caching it.
        let trie = self.read_trie();
        let result = Arc::new(trie.matches(subject));
        let mut cache = self.write_cache();
        if cache.len() >= CACHE_MAX {
            let mut keep = CACHE_SWEEP_TO;
            cache.retain(|_, _| {
                let k = keep > 0;
                keep = keep.saturating_sub(1);
                k
            });
        }
        // Another thread may have cached the same subject meanwhile; an
        // entry still present now is current (changes evict what they
        // affect before this read lock could be taken), so either will do.
        let result = cache.entry(Box::from(subject)).or_insert(result).clone();
        drop(cache);
        drop(trie);
        result
    }

    /// A counter bumped (Release) after every insert or remove that changed
    /// the index; read with Acquire. A result from [`Sublist::matches`]
    /// obtained after reading generation `g` is valid for as long as the
    /// generation is still `g`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The number of subscriptions in the index.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Drops the cached results that a change to subscriptions on `subjects`
    /// may affect. Called with the trie's write lock held.
    fn invalidate(&self, subjects: &[&[u8]]) {
        let mut cache = self.write_cache();
        if cache.is_empty() {
            return;
        }
        let wildcards = subjects.iter().filter(|s| !is_literal(s)).count();
        if wildcards > REMOVE_ALL_SCAN_LIMIT {
            cache.clear();
            return;
        }
        for s in subjects {
            if is_literal(s) {
                // A literal subscription matches only the identical subject.
                cache.remove(*s);
            } else {
                cache.retain(|key, _| !pattern_matches(s, key));
            }
        }
    }

    fn read_trie(&self) -> RwLockReadGuard<'_, Level<S>> {
        self.trie.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_trie(&self) -> RwLockWriteGuard<'_, Level<S>> {
        self.trie.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_cache(&self) -> RwLockReadGuard<'_, Cache<S>> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> RwLockWriteGuard<'_, Cache<S>> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether subscription subject `pattern` matches `subject` with the same
/// semantics as the trie walk: a `*` token of `pattern` matches any one
/// token, a final `>` one or more, other tokens only themselves (a `*` token
/// in `subject` is only matched by a wildcard).
fn pattern_matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pattern_tokens = pattern.split(|&b| b == TOKEN_SEPARATOR);
    let mut subject_tokens = subject.split(|&b| b == TOKEN_SEPARATOR);
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(p), Some(_)) if p == FULL_WILDCARD => return true,
            (Some(p), Some(_)) if p == PARTIAL_WILDCARD => {}
            (Some(p), Some(t)) if p == t => {}
            _ => return false,
        }
    }
}

/// Splits off the first token of `subject`: `(token, rest after the dot)`.
#[inline]
fn split_token(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(TOKEN_SEPARATOR, subject) {
        Some(i) => (&subject[..i], Some(&subject[i + 1..])),
        None => (subject, None),
    }
}

/// One level of the trie: the children for the next token.
struct Level<S> {
    literals: HashMap<Box<[u8]>, Node<S>>,
    pwc: Option<Box<Node<S>>>,
    fwc: Option<Box<Node<S>>>,
}

/// A trie node: the subscriptions ending at this token and the next level.
struct Node<S> {
    plain: Members<S>,
    queues: Vec<NodeGroup<S>>,
    next: Level<S>,
}

/// A queue group's members at one node.
struct NodeGroup<S> {
    name: Box<[u8]>,
    members: Members<S>,
}

/// Past this many subscriptions at one node, a pointer index keeps
/// `contains`, `add` and `remove` constant-time (below it a scan is as
/// fast and costs no memory).
const INDEX_FROM: usize = 32;

/// The subscriptions at one node (or of one queue group there): a list,
/// in which a match copies them, and, once it is long, an index from each
/// subscription's pointer to its place in the list. Without the index, a
/// client with 300 000 subscriptions on one subject took quadratic time
/// to subscribe and to leave, holding the index's write lock throughout.
///
/// Invariant: when `index` is set, it maps exactly the pointers in `list`
/// to their positions.
struct Members<S> {
    list: Vec<Arc<S>>,
    index: Option<HashMap<usize, usize>>,
}

impl<S> Default for Members<S> {
    fn default() -> Self {
        Members {
            list: Vec::new(),
            index: None,
        }
    }
}

fn key<S>(sub: &Arc<S>) -> usize {
    Arc::as_ptr(sub) as *const () as usize
}

impl<S> Members<S> {
    fn len(&self) -> usize {
        self.list.len()
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn contains(&self, sub: &Arc<S>) -> bool {
        match &self.index {
            Some(index) => index.contains_key(&key(sub)),
            None => self.list.iter().any(|s| Arc::ptr_eq(s, sub)),
        }
    }

    /// Adds `sub`; false if it was already there.
    fn add(&mut self, sub: Arc<S>) -> bool {
        if self.contains(&sub) {
            return false;
        }
        if let Some(index) = &mut self.index {
            index.insert(key(&sub), self.list.len());
        }
        self.list.push(sub);
        if self.index.is_none() && self.list.len() > INDEX_FROM {
            let index = self.list.iter().enumerate().map(|(i, s)| (key(s), i));
            self.index = Some(index.collect());
        }
        true
    }

    /// Removes `sub`; false if it was not there.
    fn remove(&mut self, sub: &Arc<S>) -> bool {
        let position = match &mut self.index {
            Some(index) => index.remove(&key(sub)),
            None => self.list.iter().position(|s| Arc::ptr_eq(s, sub)),
        };
        let Some(i) = position else {
            return false;
        };
        self.list.swap_remove(i);
        if let (Some(index), Some(moved)) = (&mut self.index, self.list.get(i)) {
            index.insert(key(moved), i);
        }
        if self.list.is_empty() {
            self.index = None;
        }
        true
    }
}

impl<S> Default for Level<S> {
    fn default() -> Self {
        Level {
            literals: HashMap::new(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<S> Default for Node<S> {
    fn default() -> Self {
        Node {
            plain: Members::default(),
            queues: Vec::new(),
            next: Level::default(),
        }
    }
}

impl<S> Level<S> {
    /// The number of child nodes.
    fn len(&self) -> usize {
        self.literals.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    fn child(&self, token: &[u8]) -> Option<&Node<S>> {
        if token == PARTIAL_WILDCARD {
            self.pwc.as_deref()
        } else if token == FULL_WILDCARD {
            self.fwc.as_deref()
        } else {
            self.literals.get(token)
        }
    }

    fn child_mut(&mut self, token: &[u8]) -> Option<&mut Node<S>> {
        if token == PARTIAL_WILDCARD {
            self.pwc.as_deref_mut()
        } else if token == FULL_WILDCARD {
            self.fwc.as_deref_mut()
        } else {
            self.literals.get_mut(token)
        }
    }

    fn remove_child(&mut self, token: &[u8]) {
        if token == PARTIAL_WILDCARD {
            self.pwc = None;
        } else if token == FULL_WILDCARD {
            self.fwc = None;
        } else {
            self.literals.remove(token);
        }
    }

    fn child_or_insert(&mut self, token: &[u8]) -> &mut Node<S> {
        if token == PARTIAL_WILDCARD {
            self.pwc.get_or_insert_with(Box::default)
        } else if token == FULL_WILDCARD {
            self.fwc.get_or_insert_with(Box::default)
        } else {
            // Avoid allocating the key when the node already exists.
            if !self.literals.contains_key(token) {
                self.literals.insert(Box::from(token), Node::default());
            }
            match self.literals.get_mut(token) {
                Some(node) => node,
                None => unreachable!("node inserted above"),
            }
        }
    }

    /// The node for (valid) subject `subject`, created as needed.
    fn node_for_insert(&mut self, subject: &[u8]) -> &mut Node<S> {
        let mut level = self;
        let mut rest = subject;
        loop {
            let (token, more) = split_token(rest);
            let node = level.child_or_insert(token);
            match more {
                Some(more) => {
                    level = &mut node.next;
                    rest = more;
                }
                None => return node,
            }
        }
    }
}

impl<S: Subscriber> Level<S> {
    /// Removes `sub` and prunes the nodes left empty. Iterative, so very
    /// long subjects cannot overflow the stack.
    fn remove(&mut self, sub: &Arc<S>) -> bool {
        let subject = sub.subject();
        // First pass, read-only: find the node, check `sub` is there, and
        // find the shallowest node from which the path down would be empty
        // after the removal (each node on it holding nothing else).
        let mut depth = 0;
        let mut prune_from: Option<usize> = None;
        let mut level: &Level<S> = self;
        let mut rest = subject;
        loop {
            let (token, more) = split_token(rest);
            let Some(node) = level.child(token) else {
                return false;
            };
            depth += 1;
            let only_path = node.sub_count() == 0 && node.next.len() == 1;
            match more {
                Some(more) => {
                    if only_path {
                        prune_from.get_or_insert(depth);
                    } else {
                        prune_from = None;
                    }
                    level = &node.next;
                    rest = more;
                }
                None => {
                    if !node.contains(sub) {
                        return false;
                    }
                    if node.sub_count() == 1 && node.next.len() == 0 {
                        prune_from.get_or_insert(depth);
                    } else {
                        prune_from = None;
                    }
                    break;
                }
            }
        }
        // Second pass: cut off the empty chain, or remove from the node.
        let stop_at = prune_from.unwrap_or(depth);
        let mut level: &mut Level<S> = self;
        let mut rest = subject;
        for d in 1.. {
            let (token, more) = split_token(rest);
            if d == stop_at && prune_from.is_some() {
                level.remove_child(token);
                return true;
            }
            let Some(node) = level.child_mut(token) else {
                return false;
            };
            match more {
                Some(more) if d < stop_at => {
                    level = &mut node.next;
                    rest = more;
                }
                _ => return node.remove(sub),
            }
        }
        false
    }

    /// Everything matching the literal `subject`, which has no empty token,
    /// in nats-server's order (a connection with several matching
    /// subscriptions gets its copies in that order): at each level `>`
    /// first, then what lies under `*`, then what lies under the literal
    /// token; at the last token the literal subscriptions before `*`.
    fn matches(&self, subject: &[u8]) -> Matches<S> {
        let mut result = Matches::default();
        // Branches still to walk: a level and the subject left to match at
        // it. A literal branch waits here while the `*` branch beside it is
        // walked; otherwise the walk goes on inline.
        let mut pending: Vec<(&Level<S>, &[u8])> = vec![(self, subject)];
        while let Some((mut level, mut rest)) = pending.pop() {
            loop {
                let (token, more) = split_token(rest);
                if let Some(fwc) = &level.fwc {
                    fwc.add_to(&mut result);
                }
                let literal = level.literals.get(token);
                let Some(more) = more else {
                    if let Some(node) = literal {
                        node.add_to(&mut result);
                    }
                    if let Some(pwc) = &level.pwc {
                        pwc.add_to(&mut result);
                    }
                    break;
                };
                level = match (&level.pwc, literal) {
                    (Some(pwc), Some(node)) => {
                        pending.push((&node.next, more));
                        &pwc.next
                    }
                    (Some(pwc), None) => &pwc.next,
                    (None, Some(node)) => &node.next,
                    (None, None) => break,
                };
                rest = more;
            }
        }
        result
    }
}

impl<S> Level<S> {
    /// Moves all child nodes into `out`, leaving this level empty.
    fn take_children(&mut self, out: &mut Vec<Node<S>>) {
        out.extend(self.literals.drain().map(|(_, node)| node));
        out.extend(self.pwc.take().map(|node| *node));
        out.extend(self.fwc.take().map(|node| *node));
    }
}

impl<S> Drop for Level<S> {
    /// Tears the subtree down iteratively instead of through recursive
    /// drops, which could overflow the stack on very deep subjects.
    fn drop(&mut self) {
        if self.len() == 0 {
            return;
        }
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.next.take_children(&mut stack);
        }
    }
}

impl<S: Subscriber> Node<S> {
    fn sub_count(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|g| g.members.len()).sum::<usize>()
    }

    fn contains(&self, sub: &Arc<S>) -> bool {
        match sub.queue() {
            None => self.plain.contains(sub),
            Some(q) => self
                .queues
                .iter()
                .find(|g| *g.name == *q)
                .is_some_and(|g| g.members.contains(sub)),
        }
    }

    /// Adds `sub`; false if it was already there.
    fn add(&mut self, sub: Arc<S>) -> bool {
        match sub.queue() {
            None => self.plain.add(sub),
            Some(q) => match self.queues.iter_mut().find(|g| *g.name == *q) {
                Some(group) => group.members.add(sub),
                None => {
                    let mut members = Members::default();
                    let name = Box::from(q);
                    members.add(sub);
                    self.queues.push(NodeGroup { name, members });
                    true
                }
            },
        }
    }

    /// Removes `sub`, and its queue group if that becomes empty.
    fn remove(&mut self, sub: &Arc<S>) -> bool {
        match sub.queue() {
            None => self.plain.remove(sub),
            Some(q) => {
                let Some(i) = self.queues.iter().position(|g| *g.name == *q) else {
                    return false;
                };
                let removed = self.queues[i].members.remove(sub);
                if self.queues[i].members.is_empty() {
                    self.queues.swap_remove(i);
                }
                removed
            }
        }
    }

    /// Adds this node's subscriptions to `result`, merging queue groups by
    /// name with those already there.
    fn add_to(&self, result: &mut Matches<S>) {
        result.plain.extend(self.plain.list.iter().cloned());
        for group in &self.queues {
            match result.queues.iter_mut().find(|g| g.name == group.name) {
                Some(merged) => merged.members.extend(group.members.list.iter().cloned()),
                None => result.queues.push(QueueGroup {
                    name: group.name.clone(),
                    members: group.members.list.clone(),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;

    /// A subscription for tests: subject, optional queue, and an id to
    /// recognise it by in results.
    #[derive(Debug)]
    struct Sub {
        id: usize,
        subject: Vec<u8>,
        queue: Option<Vec<u8>>,
    }

    impl Subscriber for Sub {
        fn subject(&self) -> &[u8] {
            &self.subject
        }
        fn queue(&self) -> Option<&[u8]> {
            self.queue.as_deref()
        }
    }

    fn sub(id: usize, subject: &str) -> Arc<Sub> {
        Arc::new(Sub {
            id,
            subject: subject.into(),
            queue: None,
        })
    }

    fn qsub(id: usize, subject: &str, queue: &str) -> Arc<Sub> {
        Arc::new(Sub {
            id,
            subject: subject.into(),
            queue: Some(queue.into()),
        })
    }

    /// A result in comparable form: sorted plain ids, and queue name ->
    /// sorted member ids.
    type Flat = (Vec<usize>, BTreeMap<Vec<u8>, Vec<usize>>);

    fn flatten(m: &Matches<Sub>) -> Flat {
        let mut plain: Vec<usize> = m.plain.iter().map(|s| s.id).collect();
        plain.sort_unstable();
        let mut queues = BTreeMap::new();
        for g in &m.queues {
            assert!(!g.members.is_empty(), "empty queue group in result");
            let mut ids: Vec<usize> = g.members.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            let dup = queues.insert(g.name.to_vec(), ids);
            assert!(dup.is_none(), "queue group {:?} listed twice", g.name);
        }
        (plain, queues)
    }

    fn plain_ids(sl: &Sublist<Sub>, subject: &str) -> Vec<usize> {
        let m = sl.matches(subject.as_bytes());
        assert!(m.queues.is_empty());
        flatten(&m).0
    }

    /// The obvious matcher, token by token, independent of the trie.
    fn naive_match(pattern: &[u8], subject: &[u8]) -> bool {
        let p: Vec<&[u8]> = pattern.split(|&b| b == b'.').collect();
        let s: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        if p.last() == Some(&&b">"[..]) {
            let fixed = p.len() - 1;
            s.len() > fixed && p[..fixed].iter().zip(&s).all(|(p, s)| *p == b"*" || p == s)
        } else {
            p.len() == s.len() && p.iter().zip(&s).all(|(p, s)| *p == b"*" || p == s)
        }
    }

    fn naive(subs: &[Arc<Sub>], subject: &[u8]) -> Flat {
        let mut plain = Vec::new();
        let mut queues: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for s in subs.iter().filter(|s| naive_match(&s.subject, subject)) {
            match &s.queue {
                None => plain.push(s.id),
                Some(q) => queues.entry(q.clone()).or_default().push(s.id),
            }
        }
        plain.sort_unstable();
        queues.values_mut().for_each(|v| v.sort_unstable());
        (plain, queues)
    }

    #[test]
    fn literal_subjects_match_exactly() {
        let sl = Sublist::new();
        sl.insert(sub(1, "foo.bar")).unwrap();
        sl.insert(sub(2, "foo")).unwrap();
        sl.insert(sub(3, "foo.bar.baz")).unwrap();
        assert_eq!(plain_ids(&sl, "foo.bar"), [1]);
        assert_eq!(plain_ids(&sl, "foo"), [2]);
        assert_eq!(plain_ids(&sl, "foo.bar.baz"), [3]);
        assert!(sl.matches(b"foo.baz").is_empty());
        assert!(sl.matches(b"bar").is_empty());
        assert_eq!(sl.count(), 3);
    }

    /// Subscriptions that overlap every way, ids in this order:
    /// 0 `foo.*`, 1 `foo.>`, 2 `*.bar`, 3 `>`, 4 `*.*`, 5 `foo.*.baz`, 6 `foo.bar`.
    fn overlapping_wildcards() -> Sublist<Sub> {
        let sl = Sublist::new();
        for (id, s) in [
            "foo.*",
            "foo.>",
            "*.bar",
            ">",
            "*.*",
            "foo.*.baz",
            "foo.bar",
        ]
        .iter()
        .enumerate()
        {
            sl.insert(sub(id, s)).unwrap();
        }
        sl
    }

    #[test]
    fn wildcards_match() {
        let sl = overlapping_wildcards();
        // ids: 0 foo.*  1 foo.>  2 *.bar  3 >  4 *.*  5 foo.*.baz  6 foo.bar
        assert_eq!(plain_ids(&sl, "foo.bar"), [0, 1, 2, 3, 4, 6]);
        assert_eq!(plain_ids(&sl, "foo.baz"), [0, 1, 3, 4]);
        assert_eq!(plain_ids(&sl, "foo"), [3]);
        assert_eq!(plain_ids(&sl, "foo.x.baz"), [1, 3, 5]);
        assert_eq!(plain_ids(&sl, "foo.x.y"), [1, 3]);
        assert_eq!(plain_ids(&sl, "baz.bar"), [2, 3, 4]);
        assert_eq!(plain_ids(&sl, "a.b.c.d"), [3]);
        assert_eq!(plain_ids(&sl, "x"), [3]);
    }

    /// A connection with several matching subscriptions gets its copies
    /// in this order, so it is nats-server's: `>` first at each level,
    /// what lies under `*` before what lies under the literal token, and
    /// at the last token the literal subscriptions before `*`.
    #[test]
    fn matches_come_in_nats_servers_order() {
        let sl = overlapping_wildcards();
        let order = |subject: &str| -> Vec<usize> {
            sl.matches(subject.as_bytes())
                .plain
                .iter()
                .map(|s| s.id)
                .collect()
        };
        // ids: 0 foo.*  1 foo.>  2 *.bar  3 >  4 *.*  5 foo.*.baz  6 foo.bar
        assert_eq!(order("foo.bar"), [3, 2, 4, 1, 6, 0]);
        assert_eq!(order("foo.x.baz"), [3, 1, 5]);
    }

    #[test]
    fn full_wildcard_needs_at_least_one_token() {
        let sl = Sublist::new();
        sl.insert(sub(1, "foo.>")).unwrap();
        assert!(sl.matches(b"foo").is_empty());
        assert_eq!(plain_ids(&sl, "foo.a"), [1]);
        assert_eq!(plain_ids(&sl, "foo.a.b.c"), [1]);
    }

    #[test]
    fn wildcard_characters_inside_tokens_are_literal() {
        let sl = Sublist::new();
        sl.insert(sub(1, "foo*.bar")).unwrap();
        sl.insert(sub(2, "foo.>bar")).unwrap();
        assert_eq!(plain_ids(&sl, "foo*.bar"), [1]);
        assert!(sl.matches(b"fooX.bar").is_empty());
        assert_eq!(plain_ids(&sl, "foo.>bar"), [2]);
        assert!(sl.matches(b"foo.xbar").is_empty());
    }

    #[test]
    fn wildcard_tokens_in_a_published_subject_are_plain_tokens() {
        // nats-server 2.9 delivers a non-pedantic PUB to `foo.*` to `foo.*`,
        // `foo.>`, `*.*` and `>`, but not to `foo.bar`.
        let sl = Sublist::new();
        for (id, s) in ["foo.bar", "foo.*", "foo.>", "*.*", ">"].iter().enumerate() {
            sl.insert(sub(id, s)).unwrap();
        }
        assert_eq!(plain_ids(&sl, "foo.*"), [1, 2, 3, 4]);
        assert_eq!(plain_ids(&sl, "foo.>"), [1, 2, 3, 4]);
    }

    #[test]
    fn invalid_subjects() {
        let sl = Sublist::new();
        for s in ["", "foo..bar", ".foo", "foo.", "foo.>.bar", "foo bar"] {
            assert_eq!(sl.insert(sub(0, s)), Err(InvalidSubject), "{s:?}");
        }
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.generation(), 0);
        sl.insert(sub(1, ">")).unwrap();
        for s in ["", "foo..bar", ".foo", "foo.", "."] {
            assert!(sl.matches(s.as_bytes()).is_empty(), "{s:?}");
        }
    }

    #[test]
    fn queue_groups_are_merged_across_nodes() {
        let sl = Sublist::new();
        sl.insert(qsub(1, "foo.bar", "workers")).unwrap();
        sl.insert(qsub(2, "foo.*", "workers")).unwrap();
        sl.insert(qsub(3, "foo.>", "workers")).unwrap();
        sl.insert(qsub(4, "foo.*", "audit")).unwrap();
        sl.insert(qsub(5, "foo.bar", "workers")).unwrap();
        sl.insert(sub(6, "foo.bar")).unwrap();
        sl.insert(qsub(7, "other", "workers")).unwrap();

        let m = sl.matches(b"foo.bar");
        let (plain, queues) = flatten(&m);
        assert_eq!(plain, [6]);
        assert_eq!(queues.len(), 2);
        assert_eq!(queues[&b"workers"[..]], [1, 2, 3, 5]);
        assert_eq!(queues[&b"audit"[..]], [4]);
    }

    #[test]
    fn removal_and_pruning() {
        let sl = Sublist::new();
        let a = sub(1, "a.b.c.d");
        let b = sub(2, "a.b");
        let c = qsub(3, "a.*.c", "q");
        let d = sub(4, "a.>");
        for s in [&a, &b, &c, &d] {
            sl.insert(s.clone()).unwrap();
        }
        assert_eq!(sl.count(), 4);

        assert!(sl.remove(&a));
        assert!(!sl.remove(&a), "second removal finds nothing");
        assert!(!sl.remove(&sub(1, "a.b.c.d")), "identity is by pointer");
        assert_eq!(plain_ids(&sl, "a.b.c.d"), [4]);
        // `c` and `d` left on the `b` node's subtree: the `c.d` chain is gone.
        assert_eq!(sl.read_trie().child(b"a").map(|n| n.next.len()), Some(3));
        assert!(
            sl.read_trie()
                .child(b"a")
                .and_then(|n| n.next.child(b"b"))
                .is_some_and(|n| n.next.len() == 0)
        );

        assert!(sl.remove(&c));
        assert!(sl.matches(b"a.x.c").queues.is_empty());
        assert!(sl.remove(&b));
        assert!(sl.remove(&d));
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.read_trie().len(), 0, "every node pruned");
        assert!(sl.matches(b"a.b").is_empty());
    }

    #[test]
    fn pruning_keeps_nodes_that_still_hold_something() {
        let sl = Sublist::new();
        let deep = sub(1, "a.b.c");
        let mid = sub(2, "a.b");
        sl.insert(deep.clone()).unwrap();
        sl.insert(mid.clone()).unwrap();
        assert!(sl.remove(&deep));
        assert_eq!(plain_ids(&sl, "a.b"), [2]);
        assert!(sl.remove(&mid));
        assert_eq!(sl.read_trie().len(), 0);
    }

    #[test]
    fn inserting_twice_is_idempotent() {
        let sl = Sublist::new();
        let s = sub(1, "foo");
        sl.insert(s.clone()).unwrap();
        sl.insert(s.clone()).unwrap();
        assert_eq!(sl.count(), 1);
        assert_eq!(plain_ids(&sl, "foo"), [1]);
        assert!(sl.remove(&s));
        assert!(sl.matches(b"foo").is_empty());
    }

    /// Issue 13, item 3: many subscriptions on one subject (plain and in
    /// one queue group) are added and removed by pointer through the
    /// node's index, in any order, and matching sees exactly the rest.
    #[test]
    fn many_subscriptions_on_one_subject_come_and_go_by_pointer() {
        let sl = Sublist::new();
        let n = 2_000;
        let plain: Vec<_> = (0..n).map(|i| sub(i, "hot")).collect();
        let queued: Vec<_> = (0..n).map(|i| qsub(n + i, "hot", "q")).collect();
        for s in plain.iter().chain(&queued) {
            sl.insert(s.clone()).unwrap();
            sl.insert(s.clone()).unwrap(); // a no-op the second time
        }
        assert_eq!(sl.count(), 2 * n);
        // Remove every third, from the middle out, one by one.
        let mut gone = std::collections::HashSet::new();
        for i in (0..n).filter(|i| i % 3 == 0).rev() {
            assert!(sl.remove(&plain[i]));
            assert!(!sl.remove(&plain[i]), "only once");
            assert!(sl.remove(&queued[i]));
            gone.insert(i);
        }
        let m = sl.matches(b"hot");
        let ids: std::collections::HashSet<_> = m.plain.iter().map(|s| s.id).collect();
        let expected: std::collections::HashSet<_> = (0..n).filter(|i| !gone.contains(i)).collect();
        assert_eq!(ids, expected);
        assert_eq!(m.queues.len(), 1);
        assert_eq!(m.queues[0].members.len(), expected.len());
        // What is left goes at once, as when a connection closes.
        let mut rest: Vec<_> = plain
            .iter()
            .chain(&queued)
            .enumerate()
            .filter(|(i, _)| !gone.contains(&(i % n)))
            .map(|(_, s)| s.clone())
            .collect();
        let left = rest.len();
        sl.remove_all(&mut rest);
        assert_eq!(rest.len(), left);
        assert_eq!(sl.count(), 0);
        assert!(sl.matches(b"hot").is_empty());
    }

    /// 100 000 subscriptions on one subject, then the connection leaves:
    /// linear, not quadratic (this ran for minutes before the index).
    #[test]
    fn a_hundred_thousand_on_one_subject_leave_at_once() {
        let sl = Sublist::new();
        let mut subs: Vec<_> = (0..100_000).map(|i| sub(i, "one.subject")).collect();
        for s in &subs {
            sl.insert(s.clone()).unwrap();
        }
        sl.remove_all(&mut subs);
        assert_eq!(subs.len(), 100_000);
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn remove_all_removes_what_is_there() {
        let sl = Sublist::new();
        let mut subs: Vec<_> = (0..20)
            .map(|i| sub(i, if i % 2 == 0 { "x.*" } else { "x.y" }))
            .collect();
        for s in &subs {
            sl.insert(s.clone()).unwrap();
        }
        let keep = sub(100, "x.y");
        sl.insert(keep.clone()).unwrap();
        assert_eq!(sl.matches(b"x.y").plain.len(), 21);
        // One of them went on its own before the batch.
        assert!(sl.remove(&subs[3]));
        let g = sl.generation();
        let before = subs.clone();
        sl.remove_all(&mut subs);
        assert_eq!(sl.generation(), g + 1, "one bump for the batch");
        assert_eq!(sl.count(), 1);
        assert_eq!(plain_ids(&sl, "x.y"), [100]);
        assert_eq!(subs.len(), 19, "only those the batch removed are left");
        assert!(!subs.iter().any(|s| Arc::ptr_eq(s, &before[3])));
        let mut again = before;
        sl.remove_all(&mut again);
        assert!(again.is_empty());
        assert_eq!(sl.generation(), g + 1, "nothing removed, no bump");
    }

    #[test]
    fn cache_hits_return_the_same_result() {
        let sl = Sublist::new();
        sl.insert(sub(1, "foo.*")).unwrap();
        let first = sl.matches(b"foo.bar");
        let second = sl.matches(b"foo.bar");
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn cache_is_invalidated_by_insert_and_remove() {
        let sl = Sublist::new();
        let lit = sub(1, "foo.bar");
        sl.insert(lit.clone()).unwrap();
        assert_eq!(plain_ids(&sl, "foo.bar"), [1]);
        assert!(sl.matches(b"foo.baz").is_empty());
        let unrelated = sl.matches(b"other");

        let wc = sub(2, "foo.*");
        sl.insert(wc.clone()).unwrap();
        assert_eq!(plain_ids(&sl, "foo.bar"), [1, 2]);
        assert_eq!(plain_ids(&sl, "foo.baz"), [2]);
        assert!(
            Arc::ptr_eq(&unrelated, &sl.matches(b"other")),
            "unaffected entry kept"
        );

        sl.insert(sub(3, "foo.baz")).unwrap();
        assert_eq!(plain_ids(&sl, "foo.baz"), [2, 3]);

        assert!(sl.remove(&lit));
        assert_eq!(plain_ids(&sl, "foo.bar"), [2]);
        assert!(sl.remove(&wc));
        assert!(sl.matches(b"foo.bar").is_empty());
        assert_eq!(plain_ids(&sl, "foo.baz"), [3]);
    }

    #[test]
    fn cache_stays_bounded() {
        let sl = Sublist::new();
        sl.insert(sub(1, "s.>")).unwrap();
        for i in 0..5000 {
            let m = sl.matches(format!("s.{i}").as_bytes());
            assert_eq!(m.plain.len(), 1);
        }
        assert!(sl.read_cache().len() <= CACHE_MAX);
    }

    #[test]
    fn generation_tracks_changes() {
        let sl = Sublist::new();
        let s = sub(1, "a");
        assert_eq!(sl.generation(), 0);
        sl.insert(s.clone()).unwrap();
        assert_eq!(sl.generation(), 1);
        let _ = sl.matches(b"a");
        assert_eq!(sl.generation(), 1, "matching changes nothing");
        assert!(sl.remove(&s));
        assert_eq!(sl.generation(), 2);
        assert!(!sl.remove(&s));
        assert_eq!(sl.generation(), 2, "no-op remove changes nothing");
    }

    #[test]
    fn very_deep_subjects_do_not_overflow_the_stack() {
        let deep = vec!["a"; 100_000].join(".");
        let sl = Sublist::new();
        let s = sub(1, &deep);
        sl.insert(s.clone()).unwrap();
        sl.insert(sub(2, &format!("{deep}.b"))).unwrap();
        assert_eq!(plain_ids(&sl, &deep), [1]);
        assert!(sl.remove(&s));
        drop(sl);
    }

    #[test]
    fn sublist_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Sublist<Sub>>();
        check::<Arc<Matches<Sub>>>();
    }

    fn pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", ">"]), 1..5)
            .prop_filter_map("`>` must be last", |toks| {
                (!toks[..toks.len() - 1].contains(&">")).then(|| toks.join("."))
            })
    }

    fn literal() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..5)
            .prop_map(|t| t.join("."))
    }

    fn queue() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(vec![None, None, Some("q1"), Some("q2")])
    }

    fn check_all(
        sl: &Sublist<Sub>,
        live: &[Arc<Sub>],
        subjects: &[String],
    ) -> Result<(), TestCaseError> {
        for s in subjects {
            let expected = naive(live, s.as_bytes());
            prop_assert_eq!(
                &flatten(&sl.matches(s.as_bytes())),
                &expected,
                "subject {}",
                s
            );
            // Again, now likely from the cache.
            prop_assert_eq!(
                &flatten(&sl.matches(s.as_bytes())),
                &expected,
                "subject {} cached",
                s
            );
        }
        prop_assert_eq!(sl.count(), live.len());
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_agree_with_naive_matcher(
            subs in prop::collection::vec((pattern(), queue()), 0..40),
            subjects in prop::collection::vec(literal(), 1..20),
            removals in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
            late in prop::collection::vec((pattern(), queue()), 0..5),
        ) {
            let sl = Sublist::new();
            let mut live: Vec<Arc<Sub>> = Vec::new();
            for (id, (subject, q)) in subs.into_iter().enumerate() {
                let s = Arc::new(Sub { id, subject: subject.into(), queue: q.map(Into::into) });
                sl.insert(s.clone()).unwrap();
                live.push(s);
            }
            check_all(&sl, &live, &subjects)?;

            for ix in removals {
                if live.is_empty() {
                    break;
                }
                let s = live.swap_remove(ix.index(live.len()));
                prop_assert!(sl.remove(&s));
            }
            check_all(&sl, &live, &subjects)?;

            for (i, (subject, q)) in late.into_iter().enumerate() {
                let s = Arc::new(Sub { id: 1000 + i, subject: subject.into(), queue: q.map(Into::into) });
                sl.insert(s.clone()).unwrap();
                live.push(s);
            }
            check_all(&sl, &live, &subjects)?;

            sl.remove_all(&mut live);
            live.clear();
            check_all(&sl, &live, &subjects)?;
            prop_assert_eq!(sl.read_trie().len(), 0);
        }

        #[test]
        fn pattern_matches_agrees_with_naive_matcher(p in pattern(), s in literal()) {
            prop_assert_eq!(pattern_matches(p.as_bytes(), s.as_bytes()), naive_match(p.as_bytes(), s.as_bytes()));
        }
    }

    /// Writers subscribe and unsubscribe while readers match (filling the
    /// cache); afterwards every cached result must equal the naive result
    /// over the subscriptions actually left.
    #[test]
    fn concurrent_changes_never_leave_stale_cache_entries() {
        const WRITERS: usize = 3;
        const READERS: usize = 3;
        const ROUNDS: usize = 2_000;
        let patterns = [
            "a", "a.b", "a.*", "a.>", "*.b", ">", "*.*", "a.b.c", "a.*.c", "b.>",
        ];
        let subjects = ["a", "a.b", "a.c", "b.b", "a.b.c", "a.x.c", "b.c.d", "c"];
        let queues = [None, Some("q")];

        let sl = Arc::new(Sublist::<Sub>::new());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let (sl, done) = (sl.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut i = r;
                    while !done.load(Ordering::Acquire) && i < 50 * ROUNDS {
                        let m = sl.matches(subjects[i % subjects.len()].as_bytes());
                        std::hint::black_box(m);
                        i += 1;
                    }
                })
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let sl = sl.clone();
                std::thread::spawn(move || {
                    // A small deterministic generator, different per thread.
                    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1);
                    let mut next = move || {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as usize
                    };
                    let mut live: Vec<Arc<Sub>> = Vec::new();
                    for round in 0..ROUNDS {
                        if live.len() > 8 || (!live.is_empty() && next() % 2 == 0) {
                            let s = live.swap_remove(next() % live.len());
                            assert!(sl.remove(&s));
                        } else {
                            let id = w * ROUNDS + round;
                            let subject = patterns[next() % patterns.len()];
                            let queue = queues[next() % queues.len()];
                            let s = Arc::new(Sub {
                                id,
                                subject: subject.into(),
                                queue: queue.map(Into::into),
                            });
                            sl.insert(s.clone()).unwrap();
                            live.push(s);
                        }
                    }
                    live
                })
            })
            .collect();
        let mut live = Vec::new();
        for w in writers {
            live.extend(w.join().unwrap());
        }
        done.store(true, Ordering::Release);
        for r in readers {
            r.join().unwrap();
        }

        assert_eq!(sl.count(), live.len());
        for s in subjects {
            let cached = sl.read_cache().get(s.as_bytes()).cloned();
            let expected = naive(&live, s.as_bytes());
            if let Some(cached) = cached {
                assert_eq!(flatten(&cached), expected, "stale cache entry for {s}");
            }
            assert_eq!(flatten(&sl.matches(s.as_bytes())), expected, "{s}");
        }
    }

    /// The per-connection cache contract: a result obtained after reading
    /// generation `g` reflects generation `g` or later. One writer (so each
    /// generation's subscription set is known exactly) races two readers
    /// that record `(generation before, result, generation after)`; each
    /// result must equal the naive result at some generation in between.
    #[test]
    fn results_are_at_least_as_new_as_the_generation_read_before() {
        const ROUNDS: usize = 3_000;
        let patterns = ["a", "a.b", "a.*", "a.>", "*.b", ">", "a.b.c", "a.*.c"];
        let subjects = ["a", "a.b", "a.c", "b.b", "a.b.c", "a.x.c"];

        let sl = Arc::new(Sublist::<Sub>::new());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (sl, done) = (sl.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut last = vec![u64::MAX; subjects.len()];
                    let mut i = r;
                    while !done.load(Ordering::Acquire) && i < 100 * ROUNDS {
                        let k = i % subjects.len();
                        let before = sl.generation();
                        if last[k] != before {
                            last[k] = before;
                            let m = sl.matches(subjects[k].as_bytes());
                            seen.push((before, k, flatten(&m), sl.generation()));
                        }
                        i += 1;
                    }
                    seen
                })
            })
            .collect();

        // states[g] is the subscription set at generation g.
        let mut states: Vec<Vec<Arc<Sub>>> = vec![Vec::new()];
        let mut live: Vec<Arc<Sub>> = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as usize
        };
        for id in 0..ROUNDS {
            if live.len() > 6 || (!live.is_empty() && next() % 2 == 0) {
                let s = live.swap_remove(next() % live.len());
                assert!(sl.remove(&s));
            } else {
                let q = (next() % 3 == 0).then(|| b"q".to_vec());
                let subject = patterns[next() % patterns.len()].into();
                let s = Arc::new(Sub {
                    id,
                    subject,
                    queue: q,
                });
                sl.insert(s.clone()).unwrap();
                live.push(s);
            }
            assert_eq!(sl.generation(), states.len() as u64);
            states.push(live.clone());
        }
        done.store(true, Ordering::Release);

        for r in readers {
            for (before, k, got, after) in r.join().unwrap() {
                let ok = (before..=after)
                    .any(|g| naive(&states[g as usize], subjects[k].as_bytes()) == got);
                assert!(ok, "{}: result older than generation {before}", subjects[k]);
            }
        }
    }
}

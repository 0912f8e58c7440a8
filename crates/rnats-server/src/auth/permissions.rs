//! What an authenticated user may publish and subscribe to: the
//! `permissions {}` of a user (or `default_permissions`), checked on every
//! PUB and SUB with nats-server's rules and error texts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rnats_proto::subject::{is_subset, pattern_matches, subjects_collide};

use crate::options::{PermissionsConfig, ResponsePermissionConfig, SubjectRuleConfig};

/// One direction's rule: allowed patterns (none = everything) minus denied.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    allow: Option<Vec<Entry>>,
    deny: Vec<Entry>,
}

/// One entry of a rule: a subject pattern, and for subscribe rules
/// possibly a queue group pattern (`"foo.> workers"`), as nats-server
/// reads it: such an entry concerns only queue subscriptions of that
/// group.
#[derive(Debug, Clone)]
struct Entry {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut fields = text.split_whitespace();
        match (fields.next(), fields.next(), fields.next()) {
            (Some(subject), Some(queue), None) => Entry {
                subject: subject.as_bytes().into(),
                queue: Some(queue.as_bytes().into()),
            },
            _ => Entry {
                subject: text.as_bytes().into(),
                queue: None,
            },
        }
    }
}

impl Entry {
    /// As the configuration wrote it: `subject`, or `subject queue`.
    fn text(&self) -> String {
        let subject = String::from_utf8_lossy(&self.subject);
        match &self.queue {
            Some(q) => format!("{subject} {}", String::from_utf8_lossy(q)),
            None => subject.into_owned(),
        }
    }
}

impl Rule {
    /// The allowed entries as written (None: no allow list, all allowed).
    pub fn allowed(&self) -> Option<Vec<String>> {
        self.allow
            .as_ref()
            .map(|entries| entries.iter().map(Entry::text).collect())
    }

    /// The denied entries as written.
    pub fn denied(&self) -> Vec<String> {
        self.deny.iter().map(Entry::text).collect()
    }

    pub(crate) fn from_config(c: &SubjectRuleConfig) -> Self {
        let entries = |v: &Vec<String>| v.iter().map(|s| Entry::parse(s)).collect();
        Rule {
            allow: c.allow.as_ref().map(entries),
            deny: entries(&c.deny),
        }
    }

    /// The entries without a queue group: the ones that speak of subjects.
    fn plain<'a>(entries: &'a [Entry]) -> impl Iterator<Item = &'a [u8]> + 'a {
        entries
            .iter()
            .filter(|e| e.queue.is_none())
            .map(|e| &e.subject[..])
    }

    /// May a message be published to this literal subject?
    pub fn allows_publish(&self, subject: &[u8]) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(allow) => Self::plain(allow).any(|p| pattern_matches(p, subject)),
        };
        allowed && !Self::plain(&self.deny).any(|p| pattern_matches(p, subject))
    }

    /// May a subscription be made on this subject (which may have
    /// wildcards), in this queue group if any? As nats-server decides it:
    /// the subject must fall inside an allowed subject; where allowed
    /// entries name queue groups for it, a queue subscription must be in
    /// one of them (and a plain subscription is not allowed by them); a
    /// denied subject refuses it, and where denied entries name queue
    /// groups for it, a queue subscription in one of them is refused.
    pub fn allows_subscription(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = match &self.allow {
            None => true,
            Some(allow) => {
                let mut allowed = Self::plain(allow).any(|p| is_subset(subject, p));
                let mut groups = allow
                    .iter()
                    .filter(|e| e.queue.is_some() && is_subset(subject, &e.subject))
                    .filter_map(|e| e.queue.as_deref())
                    .peekable();
                if let Some(queue) = queue
                    && groups.peek().is_some()
                {
                    allowed = groups.any(|g| pattern_matches(g, queue));
                }
                allowed
            }
        };
        if allowed {
            allowed = !Self::plain(&self.deny).any(|p| pattern_matches(p, subject));
            let mut groups = self
                .deny
                .iter()
                .filter(|e| e.queue.is_some() && pattern_matches(&e.subject, subject))
                .filter_map(|e| e.queue.as_deref())
                .peekable();
            if let Some(queue) = queue
                && groups.peek().is_some()
            {
                allowed = !groups.any(|g| pattern_matches(g, queue));
            }
        }
        allowed
    }

    /// For a wildcard subscription that was allowed although some denied
    /// subjects can match it: those must be filtered at delivery. Any
    /// overlap counts, not only a deny pattern wholly inside the
    /// subscription: `foo.team.>` meets the deny `foo.*.admin` on
    /// `foo.team.admin` (as current nats-server filters it; 2.9 did not).
    pub fn deny_overlaps(&self, subject: &[u8]) -> bool {
        Self::plain(&self.deny).any(|d| subjects_collide(d, subject))
    }

    pub fn denies(&self, subject: &[u8]) -> bool {
        Self::plain(&self.deny).any(|p| pattern_matches(p, subject))
    }
}

/// `allow_responses`: a client may reply to requests it received, even
/// where its publish rule says no.
#[derive(Debug, Clone)]
pub struct ResponsePermission {
    pub max: usize,
    pub expires: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct Permissions {
    pub publish: Option<Rule>,
    pub subscribe: Option<Rule>,
    pub responses: Option<ResponsePermission>,
}

impl Permissions {
    pub fn from_config(c: &PermissionsConfig) -> Self {
        let responses = c
            .allow_responses
            .as_ref()
            .map(|r: &ResponsePermissionConfig| ResponsePermission {
                max: r.max.max(1),
                expires: r.expires,
            });
        let mut publish = c.publish.as_ref().map(Rule::from_config);
        // As nats-server: allowing responses implies a publish rule exists,
        // so that replies are what opens it.
        if responses.is_some() && publish.is_none() {
            publish = Some(Rule {
                allow: Some(Vec::new()),
                deny: Vec::new(),
            });
        }
        Permissions {
            publish,
            subscribe: c.subscribe.as_ref().map(Rule::from_config),
            responses,
        }
    }
}

/// Reply subjects a client with `allow_responses` may still publish to.
#[derive(Debug)]
pub struct ResponseTracker {
    permission: ResponsePermission,
    open: HashMap<Box<[u8]>, (usize, Option<Instant>)>,
}

/// Open replies remembered per client, at most (older ones are dropped).
const MAX_OPEN_RESPONSES: usize = 64 * 1024;

impl ResponseTracker {
    pub fn new(permission: ResponsePermission) -> Self {
        ResponseTracker {
            permission,
            open: HashMap::new(),
        }
    }

    /// A request with this reply subject was delivered to the client.
    pub fn opened(&mut self, reply: &[u8]) {
        if self.open.len() >= MAX_OPEN_RESPONSES {
            let now = Instant::now();
            self.open.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
            if self.open.len() >= MAX_OPEN_RESPONSES {
                self.open.clear();
            }
        }
        let expires = self.permission.expires.map(|d| Instant::now() + d);
        self.open
            .insert(reply.into(), (self.permission.max, expires));
    }

    /// Takes one use of the permission to reply on `subject`, if open.
    pub fn take(&mut self, subject: &[u8]) -> bool {
        let Some((left, expires)) = self.open.get_mut(subject) else {
            return false;
        };
        if expires.is_some_and(|e| e <= Instant::now()) {
            self.open.remove(subject);
            return false;
        }
        *left -= 1;
        if *left == 0 {
            self.open.remove(subject);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: Option<&[&str]>, deny: &[&str]) -> Rule {
        Rule::from_config(&SubjectRuleConfig {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn publish_allow_and_deny() {
        let r = rule(Some(&["SANDBOX.*", "orders.>"]), &["orders.secret"]);
        assert!(r.allows_publish(b"SANDBOX.a"));
        assert!(!r.allows_publish(b"SANDBOX.a.b"));
        assert!(r.allows_publish(b"orders.new.1"));
        assert!(!r.allows_publish(b"orders.secret"));
        assert!(!r.allows_publish(b"other"));
        let deny_only = rule(None, &["admin.>"]);
        assert!(deny_only.allows_publish(b"anything"));
        assert!(!deny_only.allows_publish(b"admin.users"));
    }

    /// Issue 13, item 4: `"subject queue"` entries, as nats-server reads
    /// them: a queue-only grant allows that group and no plain
    /// subscription; a queue deny refuses that group only.
    #[test]
    fn queue_qualified_entries_speak_of_queue_groups() {
        let grant = rule(Some(&["work.> workers", "public.>"]), &[]);
        assert!(grant.allows_subscription(b"work.a", Some(b"workers")));
        assert!(!grant.allows_subscription(b"work.a", Some(b"others")));
        assert!(
            !grant.allows_subscription(b"work.a", None),
            "not the whole subject"
        );
        assert!(grant.allows_subscription(b"public.x", None));
        assert!(grant.allows_subscription(b"public.x", Some(b"any")));
        let wildcard_group = rule(Some(&["work.> w.*"]), &[]);
        assert!(wildcard_group.allows_subscription(b"work.a", Some(b"w.1")));
        assert!(!wildcard_group.allows_subscription(b"work.a", Some(b"x.1")));
        let deny = rule(None, &["jobs.* nosy"]);
        assert!(!deny.allows_subscription(b"jobs.a", Some(b"nosy")));
        assert!(deny.allows_subscription(b"jobs.a", Some(b"good")));
        assert!(deny.allows_subscription(b"jobs.a", None));
        assert!(
            !deny.denies(b"jobs.a"),
            "a queue deny filters no plain delivery"
        );
    }

    #[test]
    fn subscriptions_must_fit_inside_an_allowed_pattern() {
        let r = rule(Some(&["stocks.>", "news.*"]), &["stocks.secret.>"]);
        assert!(r.allows_subscription(b"stocks.nyse", None));
        assert!(r.allows_subscription(b"stocks.*", None));
        assert!(r.allows_subscription(b"news.*", None));
        assert!(!r.allows_subscription(b"news.>", None));
        assert!(!r.allows_subscription(b">", None));
        assert!(!r.allows_subscription(b"stocks.secret.x", None));
        assert!(r.allows_subscription(b"stocks.>", None));
        assert!(r.deny_overlaps(b"stocks.>"));
        assert!(!r.deny_overlaps(b"stocks.nyse"));
        // Partly overlapping wildcards count too.
        let r = rule(Some(&["foo.>"]), &["foo.*.admin"]);
        assert!(r.deny_overlaps(b"foo.team.>"));
        assert!(r.deny_overlaps(b"foo.*.*"));
        assert!(!r.deny_overlaps(b"foo.team.x"));
        assert!(!r.deny_overlaps(b"foo.team.x.>"));
    }

    #[test]
    fn responses_are_counted_and_expire() {
        let mut t = ResponseTracker::new(ResponsePermission {
            max: 2,
            expires: None,
        });
        t.opened(b"_INBOX.1");
        assert!(t.take(b"_INBOX.1"));
        assert!(t.take(b"_INBOX.1"));
        assert!(!t.take(b"_INBOX.1"));
        let mut t = ResponseTracker::new(ResponsePermission {
            max: 1,
            expires: Some(Duration::ZERO),
        });
        t.opened(b"_INBOX.2");
        assert!(!t.take(b"_INBOX.2"));
    }
}

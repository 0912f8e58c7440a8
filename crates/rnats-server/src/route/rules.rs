//! Route permissions (`import`/`export`) and the route login check.

use std::sync::Arc;

use rnats_proto::route::SubjectPermission;

use crate::auth::Secret;
use crate::auth::permissions::Rule;
use crate::options::{ClusterOptions, SubjectRuleConfig};

/// Route permissions in force, as rules.
#[derive(Default)]
pub(super) struct RouteRules {
    /// `permissions.import`: the local interest routes may hear of.
    import: Option<Rule>,
    /// `permissions.export`: the remote interest this server accepts.
    pub(super) export: Option<Arc<Rule>>,
}

impl RouteRules {
    pub(super) fn of(opts: &ClusterOptions) -> RouteRules {
        let perms = opts.permissions.as_ref();
        RouteRules {
            import: perms.and_then(|p| p.import.as_ref()).map(Rule::from_config),
            export: perms
                .and_then(|p| p.export.as_ref())
                .map(|r| Arc::new(Rule::from_config(r))),
        }
    }

    /// Whether routes may hear of local interest in `subject` (as in
    /// nats-server, a wildcard must fall wholly inside what is imported).
    pub(super) fn imports(&self, subject: &[u8]) -> bool {
        self.import
            .as_ref()
            .is_none_or(|rule| rule.allows_subscription(subject, None))
    }

    /// Whether a message that came in on a route may be delivered here:
    /// the peer only has interest this server announced, but a wildcard
    /// announced may also cover subjects `import` denies.
    pub(super) fn imports_message(&self, subject: &[u8]) -> bool {
        self.import
            .as_ref()
            .is_none_or(|rule| !rule.denies(subject))
    }

    /// Whether a peer's interest in `subject` is accepted.
    pub(super) fn exports(&self, subject: &[u8]) -> bool {
        self.export
            .as_ref()
            .is_none_or(|rule| rule.allows_subscription(subject, None))
    }
}

/// What an accepted route logged in with: its CONNECT's user and password,
/// and the names its TLS certificate offers (for `verify_and_map`). Kept
/// so that a reload can check it against new credentials.
#[derive(Debug, Clone, Default)]
pub(super) struct RouteLogin {
    pub(super) user: Option<String>,
    pub(super) pass: Option<String>,
    pub(super) cert_identities: Vec<String>,
}

impl RouteLogin {
    /// Whether this login satisfies `authorization`. With route TLS's
    /// `verify_and_map`, as in nats-server, a name in the certificate must
    /// be the configured user (no password is asked for); otherwise user
    /// and password must match (bcrypt hashes are checked too; a plain
    /// password in constant time).
    pub(super) fn passes(&self, opts: &ClusterOptions) -> bool {
        if opts.tls.as_ref().is_some_and(|tls| tls.verify_and_map) {
            return opts
                .username
                .as_ref()
                .is_some_and(|user| self.cert_identities.iter().any(|name| name == user));
        }
        let Some(expected_user) = &opts.username else {
            return true;
        };
        // The name first, as nats-server checks it: an unknown user costs
        // no bcrypt.
        if self.user.as_deref() != Some(expected_user.as_str()) {
            return false;
        }
        let password = opts.password.as_deref().unwrap_or("");
        let presented = self.pass.as_deref().unwrap_or("");
        match Secret::new(password) {
            Secret::Plain(_) => {
                use subtle::ConstantTimeEq;
                !crate::auth::is_bcrypt(presented)
                    && bool::from(password.as_bytes().ct_eq(presented.as_bytes()))
            }
            Secret::Bcrypt(hash) => bcrypt::verify(presented, &hash).unwrap_or(false),
        }
    }
}

pub(super) fn subject_permission(rule: &SubjectRuleConfig) -> SubjectPermission {
    SubjectPermission {
        allow: rule.allow.clone().unwrap_or_default(),
        deny: rule.deny.clone(),
    }
}

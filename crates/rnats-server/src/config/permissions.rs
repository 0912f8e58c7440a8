//! Permissions as nats-server writes them: `{ publish, subscribe,
//! allow_responses }` (with the synonyms `pub`/`import`, `sub`/`export`),
//! subject rules (`"a.>"`, `[a, b]` or `{ allow, deny }`) and the
//! `allow_responses` forms, with nats-server's messages.
//!
//! A shared reader like `values.rs`: the users and default permissions of
//! `auth/` and the route permissions of `cluster.rs` call it. It reads
//! through `values.rs` only and may not use any block.

use rnats_conf::Value;
use rnats_conf::ValueKind;
use rnats_proto::subject::is_valid_subject;

use super::values::Reader;
use crate::options::{
    DEFAULT_ALLOW_RESPONSE_EXPIRATION, PermissionsConfig, ResponsePermissionConfig,
    SubjectRuleConfig,
};

impl Reader {
    /// `{ publish: ..., subscribe: ..., allow_responses: ... }`
    pub(super) fn permissions(&mut self, value: &Value) -> Option<PermissionsConfig> {
        let map = self.map(value)?;
        let mut permissions = PermissionsConfig::default();
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "pub" | "publish" | "import" => permissions.publish = self.subject_rule(value),
                "sub" | "subscribe" | "export" => permissions.subscribe = self.subject_rule(value),
                "publish_allow_responses" | "allow_responses" => {
                    permissions.allow_responses = self.allow_responses(value);
                }
                _ => self.unknown_as(e, format!("Unknown field {:?} parsing permissions", e.key)),
            }
        }
        // As nats-server: allowing responses turns off the blanket publish
        // allow, so that what a user may publish to is what replies open.
        if permissions.allow_responses.is_some() {
            permissions
                .publish
                .get_or_insert_with(SubjectRuleConfig::default)
                .allow
                .get_or_insert_with(Vec::new);
        }
        Some(permissions)
    }

    /// `"a.>"`, `["a", "b"]` (allow) or `{ allow: ..., deny: ... }`.
    fn subject_rule(&mut self, value: &Value) -> Option<SubjectRuleConfig> {
        let ValueKind::Map(map) = &value.kind else {
            return Some(SubjectRuleConfig {
                allow: self.subjects(value),
                deny: Vec::new(),
            });
        };
        if map.is_empty() {
            return None;
        }
        let mut rule = SubjectRuleConfig::default();
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "allow" => rule.allow = self.subjects(&e.value),
                "deny" => rule.deny = self.subjects(&e.value).unwrap_or_default(),
                _ => self.unknown_as(
                    e,
                    format!(
                        "Unknown field name {:?} parsing subject permissions, only 'allow' or 'deny' are permitted",
                        e.key
                    ),
                ),
            }
        }
        Some(rule)
    }

    /// A subject or an array of subjects; `"foo.* queue"` names a queue group.
    fn subjects(&mut self, value: &Value) -> Option<Vec<String>> {
        let values = match &value.kind {
            ValueKind::String(_) => std::slice::from_ref(value),
            ValueKind::Array(items) => items.as_slice(),
            _ => {
                self.expected(value, "a subject or an array of subjects");
                return None;
            }
        };
        let mut subjects = Vec::with_capacity(values.len());
        for v in values {
            let subject = self.string(v)?;
            let mut fields = subject.split_whitespace();
            let valid = match (fields.next(), fields.next(), fields.next()) {
                _ if is_valid_subject(subject.as_bytes()) => true,
                (Some(s), Some(_queue), None) => is_valid_subject(s.as_bytes()),
                _ => false,
            };
            if !valid {
                self.fail(
                    &v.pos,
                    format!("subject {subject:?} is not a valid subject"),
                );
                return None;
            }
            subjects.push(subject);
        }
        Some(subjects)
    }

    /// `true`, `false` or `{ max: 1, expires: "1m" }`. As in nats-server, a
    /// missing or zero `max` is 1 and a missing or zero `expires` 2 minutes;
    /// negative ones mean no limit.
    fn allow_responses(&mut self, value: &Value) -> Option<ResponsePermissionConfig> {
        let default = ResponsePermissionConfig {
            max: 1,
            expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION),
        };
        let map = match &value.kind {
            ValueKind::Bool(true) => return Some(default),
            ValueKind::Bool(false) => return None,
            ValueKind::Map(map) => map,
            _ => {
                self.expected(
                    value,
                    "true, false or a map such as { max: 1, expires: \"1m\" }",
                );
                return None;
            }
        };
        let mut permission = default;
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "max" | "max_msgs" | "max_messages" | "max_responses" => {
                    match self.ok(value.as_i64()) {
                        Some(n) if n < 0 => permission.max = usize::MAX,
                        Some(n) if n > 0 => {
                            permission.max = usize::try_from(n).unwrap_or(usize::MAX)
                        }
                        _ => {}
                    }
                }
                "expires" | "expiration" | "ttl" => {
                    let Some(text) = self.string(value) else {
                        continue;
                    };
                    let (negative, unsigned) = match text.strip_prefix('-') {
                        Some(rest) => (true, rest),
                        None => (false, text.as_str()),
                    };
                    match rnats_conf::parse_duration(unsigned) {
                        Ok(_) if negative => permission.expires = None,
                        Ok(d) if !d.is_zero() => permission.expires = Some(d),
                        Ok(_) => {}
                        Err(reason) => {
                            self.fail(&value.pos, format!("invalid duration {text:?}: {reason}"));
                        }
                    }
                }
                _ => self.unknown_as(e, format!("Unknown field {:?} parsing permissions", e.key)),
            }
        }
        Some(permission)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::*;
    use crate::options::{PermissionsConfig, ResponsePermissionConfig, SubjectRuleConfig};

    #[test]
    fn allow_responses_forms() {
        let responses = |text: &str| {
            let opts = options(&format!(
                "authorization {{ users: [ {{user: a, password: b, permissions: {{allow_responses: {text}}}}} ] }}"
            ));
            opts.auth.users[0].permissions.clone().expect("permissions")
        };
        let p = responses("{max: 5, expires: \"1m\"}");
        assert_eq!(
            p.allow_responses,
            Some(ResponsePermissionConfig {
                max: 5,
                expires: Some(Duration::from_secs(60))
            })
        );
        // Allowing responses turns off the blanket publish allow.
        assert_eq!(
            p.publish,
            Some(SubjectRuleConfig {
                allow: Some(vec![]),
                deny: vec![]
            })
        );
        assert_eq!(
            responses("{max: -1, expires: \"-1s\"}").allow_responses,
            Some(ResponsePermissionConfig {
                max: usize::MAX,
                expires: None
            })
        );
        assert_eq!(responses("false"), PermissionsConfig::default());
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: {allow_responses: 5}} ] }"
            ),
            "nats.conf:1:80: expected true, false or a map such as { max: 1, expires: \"1m\" }, found an integer"
        );
    }
}

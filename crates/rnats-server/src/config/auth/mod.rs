//! Authentication and authorization in the config file: `authorization {}`
//! (one user, a token, or `users` with passwords, NKeys and permissions;
//! `default_permissions`; `timeout`), the accounts of `accounts {}` (in
//! `accounts.rs`) and `no_auth_user`, then the checks that need the whole
//! file (conflicting ways to log in, duplicate users, the imports and
//! exports, `no_auth_user` naming a user) with nats-server's messages.
//! Owns `opts.auth` but for `trust` (`operator.rs`) and `no_login_cache`
//! (set by `mod.rs`).
//!
//! Reads through `values.rs` and `permissions.rs`; it may not use any other
//! block.

use std::collections::HashSet;
use std::time::Duration;

use rnats_conf::{MapEntry, Pos, Value};

use super::values::{At, Reader};
use crate::options::{AccountConfig, NkeyConfig, Options, PermissionsConfig, UserConfig};

mod accounts;

pub(super) use accounts::AccountBlock;

/// Users and NKey users of an `authorization` block or an account.
#[derive(Default)]
struct UserList {
    users: Vec<At<UserConfig>>,
    nkeys: Vec<At<NkeyConfig>>,
}

impl UserList {
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.nkeys.is_empty()
    }

    fn apply_default_permissions(&mut self, default: &Option<PermissionsConfig>) {
        let Some(default) = default else { return };
        for user in &mut self.users {
            user.value
                .permissions
                .get_or_insert_with(|| default.clone());
        }
        for nkey in &mut self.nkeys {
            nkey.value
                .permissions
                .get_or_insert_with(|| default.clone());
        }
    }
}

#[derive(Default)]
pub(super) struct AuthBlock {
    pos: Option<Pos>,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    timeout: Option<Duration>,
    /// `Some` as soon as a `users` array is written, even an empty one.
    users: Option<UserList>,
    default_permissions: Option<PermissionsConfig>,
}

/// A public user NKey: base32 of the `U` prefix, 32 key bytes and a CRC.
fn is_public_user_nkey(key: &str) -> bool {
    const USER_PREFIX: u8 = 20 << 3;
    matches!(nkeys::from_public_key(key), Ok((prefix, _)) if prefix == USER_PREFIX)
}

impl Reader {
    pub(super) fn authorization(&mut self, entry: &MapEntry) -> Option<AuthBlock> {
        let map = self.map(&entry.value)?;
        let mut auth = AuthBlock {
            pos: Some(entry.key_pos.clone()),
            ..AuthBlock::default()
        };
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "user" | "username" => auth.user = self.string(value),
                "pass" | "password" => auth.password = self.string(value),
                "token" => auth.token = self.string(value),
                "timeout" => auth.timeout = self.auth_timeout(value),
                "users" => {
                    let mut users = UserList::default();
                    self.users(value, &mut users);
                    auth.users = Some(users);
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    auth.default_permissions = self.permissions(value);
                }
                _ => self.unknown(e),
            }
        }
        if let Some(users) = &mut auth.users {
            users.apply_default_permissions(&auth.default_permissions);
        }
        Some(auth)
    }

    /// `users: [ {user: a, password: b, permissions: {...}}, {nkey: U...} ]`
    fn users(&mut self, value: &Value, out: &mut UserList) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut name: Option<At<String>> = None;
            let mut password: Option<String> = None;
            let mut nkey: Option<At<String>> = None;
            let mut permissions = None;
            for e in map {
                let value = &e.value;
                match e.key.to_ascii_lowercase().as_str() {
                    "nkey" => nkey = self.located_string(value),
                    "user" | "username" => name = self.located_string(value),
                    "pass" | "password" => password = self.string(value),
                    "permission" | "permissions" | "authorization" => {
                        permissions = self.permissions(value);
                    }
                    "allowed_connection_types" | "connection_types" | "clients" => {
                        self.not_yet(e, "allowed connection types");
                    }
                    _ => self.unknown(e),
                }
            }
            let nkey = nkey.filter(|k| !k.value.is_empty());
            let name = name.filter(|n| !n.value.is_empty());
            match (nkey, name) {
                (Some(key), name) => {
                    if !is_public_user_nkey(&key.value) {
                        self.fail(&key.pos, "Not a valid public nkey for a user");
                    } else if name.is_some() || password.is_some() {
                        self.fail(&item.pos, "Nkey users do not take usernames or passwords");
                    } else {
                        out.nkeys.push(At {
                            value: NkeyConfig {
                                nkey: key.value,
                                permissions,
                            },
                            pos: key.pos,
                        });
                    }
                }
                (None, Some(name)) => out.users.push(At {
                    value: UserConfig {
                        user: name.value,
                        password: password.unwrap_or_default(),
                        permissions,
                    },
                    pos: name.pos,
                }),
                (None, None) => self.fail(&item.pos, "User entry requires a user"),
            }
        }
    }

    /// The checks that need the whole file: conflicting ways to log in,
    /// duplicate users, accounts that imports and exports name,
    /// `no_auth_user`. Then stores the result in `opts.auth`.
    pub(super) fn finish_auth(
        &mut self,
        opts: &mut Options,
        auth: Option<AuthBlock>,
        accounts: Option<Vec<AccountBlock>>,
        no_auth_user: Option<At<String>>,
    ) {
        let accounts_given = accounts.is_some();
        let accounts = accounts.unwrap_or_default();
        let mut auth_users = UserList::default();
        if let Some(auth) = &auth
            && let Some(pos) = &auth.pos
        {
            let has_user = auth.user.as_deref().is_some_and(|u| !u.is_empty());
            let has_password = auth.password.as_deref().is_some_and(|p| !p.is_empty());
            let has_token = auth.token.as_deref().is_some_and(|t| !t.is_empty());
            if (has_user || has_password) && has_token {
                self.fail(pos, "Cannot have a user/pass and token");
            } else if auth.users.is_some() && has_user {
                self.fail(pos, "Can not have a single user/pass and a users array");
            } else if auth.users.is_some() && has_token {
                self.fail(pos, "Can not have a token and a users array");
            }
            for account in &accounts {
                let Some(users_pos) = &account.users_pos else {
                    continue;
                };
                if account.users.is_empty() {
                    continue;
                }
                if has_user {
                    self.fail(users_pos, "Can not have a single user/pass and accounts");
                } else if has_token {
                    self.fail(users_pos, "Can not have a token and accounts");
                }
            }
        }
        if let Some(AuthBlock {
            users: Some(users), ..
        }) = &auth
        {
            auth_users.users.clone_from(&users.users);
            auth_users.nkeys.clone_from(&users.nkeys);
        }

        // User names and NKeys are unique across the whole file.
        let mut seen = HashSet::new();
        let lists = std::iter::once(&auth_users).chain(accounts.iter().map(|a| &a.users));
        for list in lists {
            for user in &list.users {
                if !seen.insert(user.value.user.as_str()) {
                    let name = &user.value.user;
                    self.fail(&user.pos, format!("Duplicate user {name:?} detected"));
                }
            }
            for nkey in &list.nkeys {
                if !seen.insert(nkey.value.nkey.as_str()) {
                    let key = &nkey.value.nkey;
                    self.fail(&nkey.pos, format!("Duplicate nkey {key:?} detected"));
                }
            }
        }

        self.check_imports_and_exports(&accounts);

        if let Some(no_auth) = &no_auth_user {
            let mut all_users = auth_users
                .users
                .iter()
                .chain(accounts.iter().flat_map(|a| a.users.users.iter()))
                .peekable();
            let name = &no_auth.value;
            if all_users.peek().is_none() {
                self.fail(
                    &no_auth.pos,
                    format!("no_auth_user: {name:?} present, but users are not defined"),
                );
            } else if !all_users.any(|u| &u.value.user == name) {
                self.fail(
                    &no_auth.pos,
                    format!(
                        "no_auth_user: {name:?} not present as user in authorization block or account configuration"
                    ),
                );
            }
        }

        let target = &mut opts.auth;
        if let Some(auth) = auth {
            target.username = auth.user;
            target.password = auth.password;
            target.token = auth.token;
            target.timeout = auth.timeout;
            target.default_permissions = auth.default_permissions;
            let users = auth.users.unwrap_or_default();
            target.users = users.users.into_iter().map(|u| u.value).collect();
            target.nkeys = users.nkeys.into_iter().map(|k| k.value).collect();
        }
        if accounts_given {
            target.accounts = accounts
                .into_iter()
                .map(|a| AccountConfig {
                    name: a.name.value,
                    users: a.users.users.into_iter().map(|u| u.value).collect(),
                    nkeys: a.users.nkeys.into_iter().map(|k| k.value).collect(),
                    exports: a.exports.into_iter().map(|(e, _)| e.value).collect(),
                    imports: a.imports.into_iter().map(|i| i.value).collect(),
                    mappings: a.mappings,
                    jetstream: a.jetstream,
                })
                .collect();
        }
        if let Some(no_auth) = no_auth_user {
            target.no_auth_user = Some(no_auth.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::*;
    use crate::options::{
        DEFAULT_ALLOW_RESPONSE_EXPIRATION, NkeyConfig, PermissionsConfig, ResponsePermissionConfig,
        SubjectRuleConfig, UserConfig,
    };

    #[test]
    fn single_user_token_and_timeout() {
        let opts = options("authorization { username: derek, pass: T0pS3cr3t, timeout: 0.5 }");
        assert_eq!(opts.auth.username.as_deref(), Some("derek"));
        assert_eq!(opts.auth.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(opts.auth.timeout, Some(Duration::from_millis(500)));
        let opts = options("Authorization { token: s3cr3t, timeout: \"3s\" }");
        assert_eq!(opts.auth.token.as_deref(), Some("s3cr3t"));
        assert_eq!(opts.auth.timeout, Some(Duration::from_secs(3)));
        assert_eq!(options("authorization { timeout: 0 }").auth.timeout, None);
        assert_eq!(
            error("authorization { timeout: true }"),
            "nats.conf:1:26: expected a number of seconds or a duration such as \"2s\", found a boolean"
        );
    }

    #[test]
    fn conflicting_ways_to_log_in_are_refused_with_nats_server_messages() {
        assert_eq!(
            error("authorization {\n  user: derek\n  password: x\n  token: abc\n}\n"),
            "nats.conf:1:1: Cannot have a user/pass and token"
        );
        assert_eq!(
            error("authorization {\n  token: abc\n  users = [ {user: a, password: b} ]\n}\n"),
            "nats.conf:1:1: Can not have a token and a users array"
        );
        assert_eq!(
            error("authorization {\n  user: x\n  password: y\n  users = []\n}\n"),
            "nats.conf:1:1: Can not have a single user/pass and a users array"
        );
        assert_eq!(
            error(
                "authorization { user: a, password: b }\naccounts { A: { users: [ {user: c, password: d} ] } }"
            ),
            "nats.conf:2:17: Can not have a single user/pass and accounts"
        );
        assert_eq!(
            error(
                "authorization { token: a }\naccounts { A: { users: [ {user: c, password: d} ] } }"
            ),
            "nats.conf:2:17: Can not have a token and accounts"
        );
    }

    #[test]
    fn duplicate_users_are_refused_across_authorization_and_accounts() {
        assert_eq!(
            error("authorization { users = [ {user: a, password: b}, {user: a, password: c} ] }"),
            "nats.conf:1:58: Duplicate user \"a\" detected"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: c, password: d} ] }\naccounts { A: { users: [ {user: c, password: e} ] } }"
            ),
            "nats.conf:2:33: Duplicate user \"c\" detected"
        );
        assert_eq!(
            error(&format!(
                "accounts {{ A: {{ users: [ {{nkey: {NKEY}}} ] }}, B: {{ users: [ {{nkey: {NKEY}}} ] }} }}"
            )),
            format!("nats.conf:1:117: Duplicate nkey \"{NKEY}\" detected")
        );
    }

    #[test]
    fn users_nkeys_and_permissions() {
        let opts = options(&format!(
            "authorization {{
  default_permissions: {{ subscribe: \"_INBOX.>\" }}
  users = [
    {{user: alice, password: foo, permissions: {{publish: \"a.>\", subscribe: [\"b\", \"c.* q\"]}}}}
    {{user: bob, password: \"$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba\"}}
    {{nkey: {NKEY}, permissions: {{publish: {{allow: \"x\", deny: [\"x.secret\"]}}, allow_responses: true}}}}
  ]
}}"
        ));
        let auth = &opts.auth;
        let inbox = SubjectRuleConfig {
            allow: Some(vec!["_INBOX.>".into()]),
            deny: vec![],
        };
        assert_eq!(
            auth.default_permissions,
            Some(PermissionsConfig {
                subscribe: Some(inbox.clone()),
                ..PermissionsConfig::default()
            })
        );
        assert_eq!(
            auth.users[0],
            UserConfig {
                user: "alice".into(),
                password: "foo".into(),
                permissions: Some(PermissionsConfig {
                    publish: Some(SubjectRuleConfig {
                        allow: Some(vec!["a.>".into()]),
                        deny: vec![]
                    }),
                    subscribe: Some(SubjectRuleConfig {
                        allow: Some(vec!["b".into(), "c.* q".into()]),
                        deny: vec![]
                    }),
                    allow_responses: None,
                }),
            }
        );
        // Users without permissions of their own get the defaults.
        assert_eq!(
            auth.users[1]
                .permissions
                .as_ref()
                .and_then(|p| p.subscribe.clone()),
            Some(inbox)
        );
        assert_eq!(
            auth.nkeys,
            [NkeyConfig {
                nkey: NKEY.into(),
                permissions: Some(PermissionsConfig {
                    publish: Some(SubjectRuleConfig {
                        allow: Some(vec!["x".into()]),
                        deny: vec!["x.secret".into()]
                    }),
                    subscribe: None,
                    allow_responses: Some(ResponsePermissionConfig {
                        max: 1,
                        expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION)
                    }),
                }),
            }]
        );
    }

    #[test]
    fn bad_users_and_permissions_are_located() {
        assert_eq!(
            error("authorization { users: [ {password: b} ] }"),
            "nats.conf:1:26: User entry requires a user"
        );
        assert_eq!(
            error("authorization { users: [ {nkey: bad} ] }"),
            "nats.conf:1:33: Not a valid public nkey for a user"
        );
        assert_eq!(
            error(&format!(
                "authorization {{ users: [ {{nkey: {NKEY}, user: x}} ] }}"
            )),
            "nats.conf:1:26: Nkey users do not take usernames or passwords"
        );
        assert_eq!(
            error("authorization { users: \"x\" }"),
            "nats.conf:1:24: expected an array, found a string"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: \"foo..bar\" }} ] }"
            ),
            "nats.conf:1:73: subject \"foo..bar\" is not a valid subject"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: 1 }} ] }"
            ),
            "nats.conf:1:73: expected a subject or an array of subjects, found an integer"
        );
        assert_eq!(
            error("authorization { users: [ {user: a, password: b, permissions: { bogus: x }} ] }"),
            "nats.conf:1:64: Unknown field \"bogus\" parsing permissions"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: { allow: a, bogus: 1 } }} ] }"
            ),
            "nats.conf:1:85: Unknown field name \"bogus\" parsing subject permissions, only 'allow' or 'deny' are permitted"
        );
    }

    #[test]
    fn no_auth_user_must_name_a_user() {
        assert_eq!(
            error("no_auth_user: bob\nauthorization { users = [ {user: a, password: b} ] }"),
            "nats.conf:1:15: no_auth_user: \"bob\" not present as user in authorization block or account configuration"
        );
        assert_eq!(
            error("no_auth_user: bob"),
            "nats.conf:1:15: no_auth_user: \"bob\" present, but users are not defined"
        );
        let opts = options("no_auth_user: a\nauthorization { users = [ {user: a, password: b} ] }");
        assert_eq!(opts.auth.no_auth_user.as_deref(), Some("a"));
    }
}

//! `accounts {}`: the accounts (`accounts: [A, B]` or `accounts { A: {
//! users, default_permissions, exports, imports } }`), their exports and
//! imports, and what nats-server checks when it adds them: the accounts
//! they name exist, an import matches an export that lets its account in,
//! no import is there twice.
//!
//! Part of `auth/`: an account's users are read by `auth/mod.rs`'s users
//! reader, and `auth/mod.rs` runs the checks that need the whole file. It
//! reads through `values.rs` and `permissions.rs`; it may not use any other
//! block.

use std::collections::{HashMap, HashSet};

use rnats_conf::{MapEntry, Pos, Value, ValueKind};
use rnats_proto::subject::is_valid_subject;

use super::UserList;
use crate::config::values::{At, Reader};
use crate::options::{ExportConfig, ExportKind, ImportConfig, MappingConfig, ResponseType};

pub(in crate::config) struct AccountBlock {
    pub(super) name: At<String>,
    pub(super) users: UserList,
    pub(super) users_pos: Option<Pos>,
    /// Each export with where its `accounts` list was written.
    pub(super) exports: Vec<(At<ExportConfig>, Option<Pos>)>,
    pub(super) imports: Vec<At<ImportConfig>>,
    pub(super) mappings: Vec<MappingConfig>,
    /// `jetstream`: the account's limits when enabled.
    pub(super) jetstream: Option<rnats_jetstream::AccountLimits>,
}

impl AccountBlock {
    fn new(name: String, pos: Pos) -> Self {
        AccountBlock {
            name: At { value: name, pos },
            users: UserList::default(),
            users_pos: None,
            exports: Vec::new(),
            imports: Vec::new(),
            mappings: Vec::new(),
            jetstream: None,
        }
    }
}

fn kind_name(kind: &ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

/// What the key `stream` or `service` of an export or import declares.
fn kind_of(key: &str) -> ExportKind {
    if key == "stream" {
        ExportKind::Stream
    } else {
        ExportKind::Service
    }
}

fn is_reserved_account(name: &str) -> bool {
    name == "$G"
}

impl Reader {
    /// `accounts: [A, B]` or `accounts { A: { users, exports, imports } }`.
    pub(in crate::config) fn accounts(&mut self, value: &Value) -> Vec<AccountBlock> {
        let mut accounts: Vec<AccountBlock> = Vec::new();
        match &value.kind {
            ValueKind::Array(names) => {
                for name in names {
                    let Some(name) = self.located_string(name) else {
                        continue;
                    };
                    if is_reserved_account(&name.value) {
                        self.fail(&name.pos, format!("{:?} is a Reserved Account", name.value));
                    } else if accounts.iter().any(|a| a.name.value == name.value) {
                        self.fail(
                            &name.pos,
                            format!("Duplicate Account Entry: {}", name.value),
                        );
                    } else {
                        accounts.push(AccountBlock::new(name.value, name.pos));
                    }
                }
            }
            ValueKind::Map(map) => {
                for entry in map {
                    if entry.used_as_variable {
                        continue;
                    }
                    if let Some(account) = self.account(entry) {
                        accounts.push(account);
                    }
                }
            }
            _ => {
                self.expected(value, "a map of accounts (or an array of account names)");
            }
        }
        accounts
    }

    fn account(&mut self, entry: &MapEntry) -> Option<AccountBlock> {
        let ValueKind::Map(map) = &entry.value.kind else {
            self.fail(&entry.value.pos, "Expected map entries for accounts");
            return None;
        };
        if is_reserved_account(&entry.key) {
            self.fail(
                &entry.key_pos,
                format!("{:?} is a Reserved Account", entry.key),
            );
            return None;
        }
        let mut account = AccountBlock::new(entry.key.clone(), entry.key_pos.clone());
        let mut default_permissions = None;
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "users" => {
                    account.users_pos = Some(e.key_pos.clone());
                    self.users(value, &mut account.users);
                }
                "default_permissions" => default_permissions = self.permissions(value),
                "exports" => self.exports(value, &mut account.exports),
                "imports" => self.imports(value, &mut account.imports),
                "nkey" => self.not_yet(e, "account NKeys, operators and JWT authentication"),
                "jetstream" => account.jetstream = self.account_jetstream(e),
                "mappings" | "maps" => account.mappings = self.mappings(e),
                "limits" => self.not_yet(e, "account limits"),
                _ => self.unknown(e),
            }
        }
        account
            .users
            .apply_default_permissions(&default_permissions);
        Some(account)
    }

    /// `exports: [ {stream: "a.>"}, {service: "help", accounts: [B]} ]`
    fn exports(&mut self, value: &Value, out: &mut Vec<(At<ExportConfig>, Option<Pos>)>) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut export: Option<(ExportKind, String)> = None;
            let mut subject_given = false;
            let mut accounts = Vec::new();
            let mut accounts_pos = None;
            let mut response: Option<(ResponseType, Pos)> = None;
            let mut account_token_position = None;
            for e in map {
                let value = &e.value;
                let key = e.key.to_ascii_lowercase();
                match key.as_str() {
                    "stream" | "service" => {
                        let kind = kind_of(&key);
                        subject_given = true;
                        let Some(subject) = self.string(value) else {
                            continue;
                        };
                        if let Some((seen, _)) = &export
                            && *seen != kind
                        {
                            self.fail(
                                &e.key_pos,
                                format!(
                                    "Detected {} {subject:?} but already saw a {}",
                                    kind_name(&kind),
                                    kind_name(seen)
                                ),
                            );
                            continue;
                        }
                        if !is_valid_subject(subject.as_bytes()) {
                            self.fail(
                                &value.pos,
                                format!("subject {subject:?} is not a valid subject"),
                            );
                            continue;
                        }
                        export = Some((kind, subject));
                    }
                    "accounts" => {
                        accounts_pos = Some(value.pos.clone());
                        accounts = self.string_list(value);
                    }
                    "response" | "response_type" => {
                        if response.is_some() {
                            self.fail(&e.key_pos, "Duplicate response type definition");
                            continue;
                        }
                        let Some(name) = self.string(value) else {
                            continue;
                        };
                        let rt = match name.to_ascii_lowercase().as_str() {
                            "single" | "singleton" => ResponseType::Singleton,
                            "stream" => ResponseType::Streamed,
                            "chunk" | "chunked" => ResponseType::Chunked,
                            _ => {
                                self.fail(&e.key_pos, format!("Unknown response type: {name:?}"));
                                continue;
                            }
                        };
                        response = Some((rt, e.key_pos.clone()));
                    }
                    "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                        self.not_yet(e, "service response thresholds");
                    }
                    "latency" => self.not_yet(e, "service latency tracking"),
                    "account_token_position" => {
                        account_token_position =
                            self.count(e, 255).map(|n| (n as usize, e.key_pos.clone()));
                    }
                    _ => self.unknown(e),
                }
            }
            let Some((kind, subject)) = export else {
                if !subject_given {
                    self.fail(&item.pos, "an export needs a \"stream\" or a \"service\"");
                }
                continue;
            };
            if let Some((_, pos)) = &response
                && kind == ExportKind::Stream
            {
                self.fail(pos, "Detected response directive on non-service");
            }
            // nats-server: the token at the position must be a `*` the
            // importer's name fills in.
            let account_token_position = match account_token_position {
                Some((0, _)) | None => None,
                Some((n, pos)) => {
                    if subject.split('.').nth(n - 1) != Some("*") {
                        let what = match kind {
                            ExportKind::Stream => "stream",
                            ExportKind::Service => "service",
                        };
                        self.fail(
                            &pos,
                            format!(
                                "Error adding {what} export {subject:?}: sublist: invalid subject"
                            ),
                        );
                        continue;
                    }
                    Some(n)
                }
            };
            out.push((
                At {
                    value: ExportConfig {
                        kind,
                        subject,
                        accounts,
                        response: response.map(|(rt, _)| rt).unwrap_or_default(),
                        account_token_position,
                    },
                    pos: item.pos.clone(),
                },
                accounts_pos,
            ));
        }
    }

    /// `imports: [ {stream: {account: A, subject: s}, prefix: p}, {service: {account: A, subject: s}, to: t} ]`
    fn imports(&mut self, value: &Value, out: &mut Vec<At<ImportConfig>>) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut import: Option<(ExportKind, String, String)> = None;
            let mut source_given = false;
            let mut prefix: Option<At<String>> = None;
            let mut to: Option<At<String>> = None;
            for e in map {
                let value = &e.value;
                let key = e.key.to_ascii_lowercase();
                match key.as_str() {
                    "stream" | "service" => {
                        let kind = kind_of(&key);
                        if let Some((seen, ..)) = &import
                            && *seen != kind
                        {
                            self.fail(
                                &e.key_pos,
                                format!(
                                    "Detected {} but already saw a {}",
                                    kind_name(&kind),
                                    kind_name(seen)
                                ),
                            );
                            continue;
                        }
                        source_given = true;
                        if let Some((account, subject)) = self.import_source(value) {
                            import = Some((kind, account, subject));
                        }
                    }
                    "prefix" => prefix = self.located_string(value),
                    "to" => to = self.located_string(value),
                    "share" => self.not_yet(e, "service import sharing"),
                    _ => self.unknown(e),
                }
            }
            let Some((kind, account, subject)) = import else {
                if source_given {
                    continue; // what is wrong with it is reported already
                }
                self.fail(
                    &item.pos,
                    "an import needs a \"stream\" or a \"service\" with an account and a subject",
                );
                continue;
            };
            for subject in prefix.iter().chain(to.iter()) {
                if !is_valid_subject(subject.value.as_bytes()) {
                    self.fail(
                        &subject.pos,
                        format!("subject {:?} is not a valid subject", subject.value),
                    );
                }
            }
            match (&kind, &prefix, &to) {
                (ExportKind::Stream, Some(_), Some(to)) => {
                    self.fail(
                        &to.pos,
                        "Stream import can not have a 'prefix' and a 'to' property",
                    );
                    continue;
                }
                (ExportKind::Service, Some(prefix), _) => {
                    self.fail(
                        &prefix.pos,
                        "\"prefix\" is for stream imports; a service import takes \"to\"",
                    );
                    continue;
                }
                _ => {}
            }
            out.push(At {
                value: ImportConfig {
                    kind,
                    account,
                    subject,
                    prefix: prefix.map(|p| p.value),
                    to: to.map(|t| t.value),
                    share: false,
                },
                pos: item.pos.clone(),
            });
        }
    }

    /// `{account: A, subject: "a.>"}` of an import.
    fn import_source(&mut self, value: &Value) -> Option<(String, String)> {
        let map = self.map(value)?;
        let mut account = None;
        let mut subject = None;
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "account" => account = self.string(&e.value),
                "subject" => subject = self.located_string(&e.value),
                _ => self.unknown(e),
            }
        }
        match (account.filter(|a| !a.is_empty()), subject) {
            (Some(account), Some(subject)) if !subject.value.is_empty() => {
                if is_valid_subject(subject.value.as_bytes()) {
                    Some((account, subject.value))
                } else {
                    self.fail(
                        &subject.pos,
                        format!("subject {:?} is not a valid subject", subject.value),
                    );
                    None
                }
            }
            _ => {
                self.fail(&value.pos, "Expect an account name and a subject");
                None
            }
        }
    }

    /// What nats-server checks when it adds the imports and exports: the
    /// accounts they name exist, an import matches an export of the other
    /// account that lets this account in, and no import is there twice.
    pub(super) fn check_imports_and_exports(&mut self, accounts: &[AccountBlock]) {
        let by_name: HashMap<&str, &AccountBlock> = accounts
            .iter()
            .map(|a| (a.name.value.as_str(), a))
            .collect();
        for account in accounts {
            for (export, accounts_pos) in &account.exports {
                for name in &export.value.accounts {
                    if !by_name.contains_key(name.as_str()) {
                        let pos = accounts_pos.as_ref().unwrap_or(&export.pos);
                        let kind = kind_name(&export.value.kind);
                        self.fail(
                            pos,
                            format!("{name:?} account not defined for {kind} export"),
                        );
                    }
                }
            }
        }
        for account in accounts {
            let mut streams: HashSet<(&str, &str)> = HashSet::new();
            let mut services: HashMap<&str, &ImportConfig> = HashMap::new();
            for import in &account.imports {
                let import_pos = &import.pos;
                let import = &import.value;
                let kind = kind_name(&import.kind);
                let Some(exporter) = by_name.get(import.account.as_str()) else {
                    let name = &import.account;
                    self.fail(
                        import_pos,
                        format!("{name:?} account not defined for {kind} import"),
                    );
                    continue;
                };
                let authorized = exporter
                    .exports
                    .iter()
                    .any(|(export, _)| export.value.allows(&account.name.value, import));
                let subject = &import.subject;
                if !authorized {
                    self.fail(
                        import_pos,
                        format!(
                            "Error adding {kind} import {subject:?}: {kind} import not authorized"
                        ),
                    );
                    continue;
                }
                match import.kind {
                    ExportKind::Stream => {
                        if !streams.insert((import.account.as_str(), subject.as_str())) {
                            self.fail(
                                import_pos,
                                format!(
                                    "Error adding stream import {subject:?}: stream import already exists"
                                ),
                            );
                        }
                    }
                    ExportKind::Service => {
                        let to = import.to.as_deref().unwrap_or(subject);
                        if let Some(previous) = services.insert(to, import) {
                            self.fail(
                                import_pos,
                                format!(
                                    "Duplicate service import subject {to:?}, previously used in import for account {:?}, subject {:?}",
                                    previous.account, previous.subject
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::options::{ExportConfig, ExportKind, ImportConfig, SubjectRuleConfig};

    #[test]
    fn accounts_with_users_exports_and_imports() {
        let opts = options(&format!(
            "accounts {{
  A: {{
    users: [ {{user: a, password: pa}}, {{nkey: {NKEY}}} ]
    exports: [ {{stream: \"a.>\", accounts: [B]}}, {{service: help}} ]
  }}
  B: {{
    default_permissions: {{ publish: \"b.>\" }}
    users: [ {{user: b, password: pb}} ]
    imports: [
      {{stream: {{account: A, subject: \"a.x\"}}, prefix: from_a}}
      {{service: {{account: A, subject: help}}, to: a_help}}
    ]
  }}
}}
no_auth_user: b
"
        ));
        let accounts = &opts.auth.accounts;
        assert_eq!(accounts.len(), 2);
        let (a, b) = (&accounts[0], &accounts[1]);
        assert_eq!(a.name, "A");
        assert_eq!(a.users[0].user, "a");
        assert_eq!(a.nkeys[0].nkey, NKEY);
        assert_eq!(
            a.exports,
            [
                ExportConfig {
                    accounts: vec!["B".into()],
                    ..ExportConfig::new(ExportKind::Stream, "a.>")
                },
                ExportConfig::new(ExportKind::Service, "help"),
            ]
        );
        assert_eq!(
            b.imports,
            [
                ImportConfig {
                    kind: ExportKind::Stream,
                    account: "A".into(),
                    subject: "a.x".into(),
                    prefix: Some("from_a".into()),
                    to: None,
                    share: false,
                },
                ImportConfig {
                    kind: ExportKind::Service,
                    account: "A".into(),
                    subject: "help".into(),
                    prefix: None,
                    to: Some("a_help".into()),
                    share: false,
                },
            ]
        );
        let b_user = &b.users[0];
        assert_eq!(
            b_user.permissions.as_ref().and_then(|p| p.publish.clone()),
            Some(SubjectRuleConfig {
                allow: Some(vec!["b.>".into()]),
                deny: vec![]
            })
        );
        assert_eq!(opts.auth.no_auth_user.as_deref(), Some("b"));
        assert!(opts.auth.users.is_empty());

        let opts = options("accounts: [A, B]");
        let names: Vec<_> = opts.auth.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn account_errors_use_nats_server_messages() {
        assert_eq!(
            error("accounts { \"$G\": {} }"),
            "nats.conf:1:12: \"$G\" is a Reserved Account"
        );
        assert_eq!(
            error("accounts [ A, B, A ]"),
            "nats.conf:1:18: Duplicate Account Entry: A"
        );
        assert_eq!(
            error("accounts { A: 1 }"),
            "nats.conf:1:15: Expected map entries for accounts"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a.>\", accounts: [C]} ] } }"),
            "nats.conf:1:54: \"C\" account not defined for stream export"
        );
        assert_eq!(
            error("accounts { B: { imports: [ {stream: {account: Z, subject: \"a.>\"}} ] } }"),
            "nats.conf:1:28: \"Z\" account not defined for stream import"
        );
        assert_eq!(
            error("accounts { A: {}, B: { imports: [ {service: {account: A, subject: help}} ] } }"),
            "nats.conf:1:35: Error adding service import \"help\": service import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {service: \"a.b\"} ] }, B: { imports: [ {service: {account: A, subject: \"a.*\"}} ] } }"
            ),
            "nats.conf:1:66: Error adding service import \"a.*\": service import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.>\", accounts: [C]} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}} ] }, C: {} }"
            ),
            "nats.conf:1:80: Error adding stream import \"a.b\": stream import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.b\"} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}, prefix: p, to: q} ] } }"
            ),
            "nats.conf:1:119: Stream import can not have a 'prefix' and a 'to' property"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a.b\", service: c} ] } }"),
            "nats.conf:1:44: Detected service \"c\" but already saw a stream"
        );
        // One problem, one message.
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a..b\"} ] } }"),
            "nats.conf:1:37: subject \"a..b\" is not a valid subject"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {accounts: [A]} ] } }"),
            "nats.conf:1:28: an export needs a \"stream\" or a \"service\""
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.>\"} ] }, B: { imports: [ {stream: {account: A}} ] } }"
            ),
            "nats.conf:1:74: Expect an account name and a subject"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.b\"} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}, prefix: x}, {stream: {account: A, subject: \"a.b\"}, prefix: y} ] } }"
            ),
            "nats.conf:1:116: Error adding stream import \"a.b\": stream import already exists"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {service: \"a.b\"} ] }, B: { imports: [ {service: {account: A, subject: \"a.b\"}, to: \"x.y\"}, {service: {account: A, subject: \"a.b\"}, to: \"x.y\"} ] } }"
            ),
            "nats.conf:1:118: Duplicate service import subject \"x.y\", previously used in import for account \"A\", subject \"a.b\""
        );
        // Response types and account token positions: nats-server 2.15.1's
        // words; it places them one column left, or at column 0.
        assert_eq!(
            error("accounts { A: { exports: [ {service: \"a.b\", response_type: bogus} ] } }"),
            "nats.conf:1:45: Unknown response type: \"bogus\""
        );
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a.b\", response_type: stream} ] } }"),
            "nats.conf:1:44: Detected response directive on non-service"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {service: \"a.b\", account_token_position: 2} ] } }"),
            "nats.conf:1:45: Error adding service export \"a.b\": sublist: invalid subject"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {service: \"a.*\", account_token_position: 2} ] }, B: { imports: [ {service: {account: A, subject: \"a.C\"}} ] } }"
            ),
            "nats.conf:1:93: Error adding service import \"a.C\": service import not authorized"
        );
        assert_eq!(
            error("accounts { A: { limits: { max_conn: 1 } } }"),
            "nats.conf:1:17: \"limits\" is not supported by rnats-server yet (account limits)"
        );
    }
}

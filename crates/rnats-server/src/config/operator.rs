//! Decentralized authentication: `operator` (JWTs or files holding them),
//! `system_account`, `resolver` (`MEMORY` or `{ type: full|cache, dir }`)
//! and `resolver_preload`, collected in a [`TrustBlock`] while the top level
//! is walked, then checked with operator mode's rules and nats-server's
//! messages and stored in `opts.auth.trust`.
//!
//! Reads through `values.rs` only. It may not use another block: what it
//! checks against the users and accounts it reads from `opts.auth`, which
//! `auth/` has filled in by then (`mod.rs` calls `finish_auth` first).

use std::path::{Path, PathBuf};

use rnats_conf::{Pos, Value, ValueKind};

use super::Warning;
use super::values::{At, Reader};
use crate::options::{Options, ResolverOptions, TrustOptions};

/// `operator`, `system_account`, `resolver`, `resolver_preload`.
#[derive(Default)]
pub(super) struct TrustBlock {
    pub(super) operator_pos: Option<Pos>,
    operators: Vec<String>,
    pub(super) system_account: Option<At<String>>,
    pub(super) resolver: Option<At<ResolverOptions>>,
    preload: Vec<(String, String)>,
    preload_pos: Option<Pos>,
}

impl Reader {
    /// `operator: <jwt or file>` or a list of them. A file may hold the JWT
    /// plain or between `-----BEGIN ... JWT-----` lines; a relative path is
    /// tried from the working directory, then from the config file's.
    pub(super) fn operators(&mut self, value: &Value, trust: &mut TrustBlock) {
        let items: Vec<&Value> = match &value.kind {
            ValueKind::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in items {
            let Some(text) = self.string(item) else {
                continue;
            };
            let jwt = if text.trim_start().starts_with("eyJ") {
                text
            } else {
                let path = PathBuf::from(&text);
                let from_config = Path::new(&*item.pos.file)
                    .parent()
                    .map(|dir| dir.join(&path));
                let read = std::fs::read_to_string(&path).or_else(|e| match &from_config {
                    Some(p) if path.is_relative() => std::fs::read_to_string(p),
                    _ => Err(e),
                });
                match read {
                    Ok(contents) => rnats_jwt::parse_decorated_jwt(&contents),
                    Err(e) => {
                        self.fail(
                            &item.pos,
                            format!("error parsing operator JWT: open {text}: {e}"),
                        );
                        continue;
                    }
                }
            };
            match rnats_jwt::decode_operator(&jwt) {
                Ok(_) => trust.operators.push(jwt),
                Err(e) => self.fail(&item.pos, format!("error parsing operator JWT: {e}")),
            }
        }
    }

    /// `resolver: MEMORY` or `resolver: { type: full|cache, dir: ..., allow_delete }`.
    pub(super) fn resolver(&mut self, value: &Value) -> Option<At<ResolverOptions>> {
        let at = |r| {
            Some(At {
                value: r,
                pos: value.pos.clone(),
            })
        };
        if let ValueKind::String(text) = &value.kind {
            if text.eq_ignore_ascii_case("MEMORY") || text.eq_ignore_ascii_case("MEM") {
                return at(ResolverOptions::Memory);
            }
            self.fail(
                &value.pos,
                format!(
                    "resolver {text:?} is not supported by rnats-server yet (use MEMORY or {{ type: full|cache, dir: ... }})"
                ),
            );
            return None;
        }
        let map = self.map(value)?;
        let (mut kind, mut dir, mut allow_delete) = (None, None, false);
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "type" => kind = self.located_string(&e.value),
                "dir" => dir = self.path(&e.value),
                "allow_delete" => allow_delete = self.ok(e.value.as_bool()).unwrap_or(false),
                // Cluster synchronisation settings: nothing to synchronise with.
                "interval" | "limit" | "timeout" | "ttl" | "hard_delete" => {}
                _ => self.unknown(e),
            }
        }
        let full = match kind.as_ref().map(|k| k.value.to_ascii_lowercase()) {
            Some(k) if k == "full" => true,
            Some(k) if k == "cache" => false,
            Some(_) | None => {
                let pos = kind.as_ref().map_or(&value.pos, |k| &k.pos).clone();
                self.fail(&pos, "resolver type must be \"full\" or \"cache\"");
                return None;
            }
        };
        let Some(dir) = dir else {
            self.fail(&value.pos, "resolver needs a dir");
            return None;
        };
        at(ResolverOptions::Dir {
            dir,
            full,
            allow_delete,
        })
    }

    /// `resolver_preload { <account public key>: <account JWT> }`.
    pub(super) fn resolver_preload(&mut self, value: &Value, trust: &mut TrustBlock) {
        let Some(map) = self.map(value) else { return };
        for e in map {
            let Some(jwt) = self.string(&e.value) else {
                continue;
            };
            match rnats_jwt::decode_account(jwt.trim()) {
                Ok(claims) if claims.subject == e.key => {
                    trust.preload.push((e.key.clone(), jwt.trim().to_string()));
                }
                Ok(_) | Err(_) => self.fail(&e.value.pos, "invalid account JWT"),
            }
        }
        trust.preload_pos = Some(value.pos.clone());
    }

    /// Operator mode's rules, with nats-server's messages.
    pub(super) fn finish_trust(
        &mut self,
        opts: &mut Options,
        trust: TrustBlock,
        no_auth: Option<Pos>,
    ) {
        let Some(pos) = trust.operator_pos else {
            if let Some(p) = trust.preload_pos {
                self.warnings.push(Warning {
                    pos: p,
                    message: "resolver_preload is ignored without an operator".into(),
                });
            }
            return;
        };
        let auth = &opts.auth;
        if !auth.users.is_empty() || !auth.nkeys.is_empty() || auth.username.is_some() {
            self.fail(
                &pos,
                "operators do not allow users to be configured directly",
            );
        }
        if !auth.accounts.is_empty() {
            self.fail(
                &pos,
                "operators do not allow Accounts to be configured directly",
            );
        }
        if let Some(p) = no_auth {
            self.fail(&p, "no_auth_user not compatible with Trusted Operator");
        }
        if let Some(sys) = &trust.system_account
            && !rnats_jwt::is_public_key_of(&sys.value, rnats_jwt::nkeys::KeyPairType::Account)
        {
            self.fail(
                &sys.pos,
                "error resolving system account: will only fetch valid account keys",
            );
        }
        let Some(resolver) = trust.resolver else {
            self.fail(
                &pos,
                "operator needs a resolver: resolver: MEMORY, or resolver: { type: full, dir: ... }",
            );
            return;
        };
        let operator_sys = trust.operators.iter().any(|jwt| {
            rnats_jwt::decode_operator(jwt).is_ok_and(|o| !o.nats.system_account.is_empty())
        });
        if matches!(resolver.value, ResolverOptions::Dir { .. })
            && trust.system_account.is_none()
            && !operator_sys
        {
            self.fail(
                &resolver.pos,
                "using nats based account resolver - the system account needs to be specified in configuration or the operator jwt",
            );
        }
        opts.auth.trust = Some(TrustOptions {
            operators: trust.operators,
            system_account: trust.system_account.map(|s| s.value),
            resolver: resolver.value,
            preload: trust.preload,
        });
    }
}

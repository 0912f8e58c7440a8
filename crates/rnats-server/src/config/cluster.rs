//! `cluster {}`: the route listener (`listen`, `host`, `port`), the one
//! route user of its `authorization`, `routes`, `connect_retries`,
//! advertising, route permissions (`import`/`export`) and its `tls {}`,
//! with nats-server's rules and messages. Owns `opts.cluster`, nothing else.
//!
//! Reads through `values.rs`, and through the two shared readers of nested
//! blocks it cannot do without: `permissions.rs` (route permissions are
//! written as user permissions are) and `tls.rs` (the routes' `tls {}`,
//! whose keys are the clients'). It may not use `auth/`, `server.rs` or
//! `operator.rs`.

use rnats_conf::{Value, ValueKind};

use super::Warning;
use super::values::Reader;
use crate::options::{ClusterOptions, Options, RoutePermissions};

impl Reader {
    /// `cluster { name, listen | host + port, authorization { user,
    /// password, timeout, [permissions: deprecated] }, routes,
    /// connect_retries, no_advertise, cluster_advertise, permissions {
    /// import, export }, tls }`.
    pub(super) fn cluster(&mut self, value: &Value) -> Option<ClusterOptions> {
        let block = self.map(value)?;
        // No port, no clustering (as in nats-server: `cluster { name: x }`
        // alone neither listens nor dials); `listen` or `port` turn it on.
        let mut cluster = ClusterOptions {
            host: "0.0.0.0".into(),
            port: 0,
            ..Default::default()
        };
        let mut legacy_permissions = None;
        for entry in block {
            let v = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "name" => cluster.name = self.string(v).filter(|n| !n.is_empty()),
                "listen" => {
                    let mut listen = Options {
                        host: cluster.host.clone(),
                        port: cluster.port,
                        ..Options::default()
                    };
                    self.listen(v, &mut listen);
                    cluster.host = listen.host;
                    cluster.port = listen.port;
                }
                "host" | "net" => {
                    if let Some(host) = self.string(v).filter(|h| !h.is_empty()) {
                        cluster.host = host;
                    }
                }
                "port" => {
                    if let Some(port) = self.port(v) {
                        cluster.port = port;
                    }
                }
                "authorization" => {
                    let Some(map) = self.map(v) else { continue };
                    for e in map {
                        match e.key.to_ascii_lowercase().as_str() {
                            "user" | "username" => cluster.username = self.string(&e.value),
                            "pass" | "password" => cluster.password = self.string(&e.value),
                            "timeout" => cluster.auth_timeout = self.auth_timeout(&e.value),
                            // Routes log in with one user and password, in
                            // nats-server too (these are its messages).
                            "users" => self.fail(
                                &e.key_pos,
                                "Cluster authorization does not allow multiple users",
                            ),
                            "token" => self
                                .fail(&e.key_pos, "Cluster authorization does not support tokens"),
                            // The old place of route permissions: still
                            // honoured, with nats-server's warning, unless
                            // the cluster block has its own.
                            "permissions" | "default_permissions" => {
                                self.warnings.push(Warning {
                                    pos: e.key_pos.clone(),
                                    message: format!(
                                        "invalid use of field {:?}: setting \"permissions\" within \
                                         cluster authorization block is deprecated",
                                        entry.key
                                    ),
                                });
                                legacy_permissions = self.route_permissions(&e.value);
                            }
                            _ => self.unknown(e),
                        }
                    }
                }
                "routes" => {
                    cluster.routes = match &v.kind {
                        ValueKind::String(_) => self.string(v).into_iter().collect(),
                        _ => self.string_list(v),
                    }
                }
                "connect_retries" => {
                    if let Some(n) = self.count(entry, u32::MAX.into()) {
                        cluster.connect_retries = n as u32;
                    }
                }
                "no_advertise" => cluster.no_advertise = self.ok(v.as_bool()).unwrap_or(false),
                "cluster_advertise" | "advertise" => cluster.advertise = self.string(v),
                "permissions" => {
                    if let Some(perms) = self.route_permissions(v) {
                        cluster.permissions = Some(perms);
                    }
                }
                "tls" => cluster.tls = self.cluster_tls(v).filter(|t| self.tls_files(entry, t)),
                "pool_size" | "accounts" | "compression" => {
                    self.not_yet(entry, "this cluster option")
                }
                _ => self.unknown(entry),
            }
        }
        if cluster.permissions.is_none() {
            cluster.permissions = legacy_permissions;
        }
        Some(cluster)
    }

    /// Route permissions: `import` and `export` (or nats-server's aliases
    /// `publish` and `subscribe`), without `allow_responses`.
    fn route_permissions(&mut self, value: &Value) -> Option<RoutePermissions> {
        let perms = self.permissions(value)?;
        if perms.allow_responses.is_some() {
            self.fail(
                &value.pos,
                "Cluster permissions do not support dynamic responses",
            );
            return None;
        }
        // The parser reads `import` as publish and `export` as subscribe.
        Some(RoutePermissions {
            import: perms.publish,
            export: perms.subscribe,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::*;

    #[test]
    fn the_cluster_block() {
        let opts = options(
            "cluster {\n  name: c1\n  listen: 127.0.0.1:-1\n  authorization { user: ru, password: rp, timeout: 0.5 }\n  \
             routes: [ nats-route://ru:rp@127.0.0.1:6223 ]\n  connect_retries: 5\n  no_advertise: true\n}\n",
        );
        let c = opts.cluster.unwrap();
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        assert_eq!(c.username.as_deref(), Some("ru"));
        assert_eq!(c.password.as_deref(), Some("rp"));
        assert_eq!(c.auth_timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.routes, ["nats-route://ru:rp@127.0.0.1:6223"]);
        assert_eq!(c.connect_retries, 5);
        assert!(c.no_advertise);
        let c = options("cluster { port: 7244, host: 127.0.0.2 }")
            .cluster
            .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.2", 7244));
        assert!(error("cluster { bogus: 1 }").contains("unknown field"));
    }

    #[test]
    fn cluster_permissions_are_import_and_export() {
        let opts = options(
            "cluster {\n  port: -1\n  permissions {\n    import: { allow: [\"a.>\"], deny: a.secret }\n    \
             export: \"b.*\"\n  }\n}\n",
        );
        let perms = opts.cluster.unwrap().permissions.unwrap();
        let import = perms.import.unwrap();
        assert_eq!(import.allow, Some(vec!["a.>".to_string()]));
        assert_eq!(import.deny, ["a.secret"]);
        assert_eq!(perms.export.unwrap().allow, Some(vec!["b.*".to_string()]));
        // nats-server's other names for the two directions work too.
        let perms = options("cluster { permissions { publish: x, subscribe: y } }")
            .cluster
            .unwrap()
            .permissions
            .unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["x".to_string()]));
        assert_eq!(perms.export.unwrap().allow, Some(vec!["y".to_string()]));
        assert_eq!(
            error("cluster {\n  permissions { import: a, allow_responses: true }\n}\n"),
            "nats.conf:2:15: Cluster permissions do not support dynamic responses"
        );
    }

    #[test]
    fn cluster_authorization_is_one_user_as_in_nats_server() {
        assert_eq!(
            error("cluster {\n  authorization { users: [ {user: a, password: b} ] }\n}\n"),
            "nats.conf:2:19: Cluster authorization does not allow multiple users"
        );
        assert_eq!(
            error("cluster {\n  authorization { token: t0k3n }\n}\n"),
            "nats.conf:2:19: Cluster authorization does not support tokens"
        );
    }

    #[test]
    fn route_permissions_in_cluster_authorization_are_deprecated_but_kept() {
        let text = "cluster {\n  authorization { user: a, password: b, permissions { import: x, export: y } }\n}\n";
        assert_eq!(
            warnings(text),
            [
                "nats.conf:2:41: invalid use of field \"authorization\": setting \"permissions\" \
              within cluster authorization block is deprecated"
            ]
        );
        let (opts, _) = apply_text(text).unwrap();
        let perms = opts.cluster.unwrap().permissions.unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["x".to_string()]));
        assert_eq!(perms.export.unwrap().allow, Some(vec!["y".to_string()]));
        // The cluster block's own permissions win, wherever they are written.
        let (opts, _) = apply_text(
            "cluster {\n  permissions { import: own }\n  \
             authorization { default_permissions { import: old } }\n}\n",
        )
        .unwrap();
        let perms = opts.cluster.unwrap().permissions.unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["own".to_string()]));
    }
}

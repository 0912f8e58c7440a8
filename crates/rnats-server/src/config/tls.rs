//! The `tls {}` blocks: the client-facing one at the top level and the
//! routes' one inside `cluster {}`, read by one reader with each side's
//! rules (the keys, what each requires, what routes ignore). Whether the
//! files and names work is checked when the server builds its TLS
//! configuration (`crate::tls`), not here.
//!
//! A shared reader like `values.rs`: `mod.rs` and `cluster.rs` call it. It
//! reads through `values.rs` only and may not use any other block.

use std::time::Duration;

use rnats_conf::{MapEntry, Value, ValueKind};

use super::Warning;
use super::values::Reader;
use crate::tls::TlsOptions;

impl Reader {
    /// `tls { cert_file, key_file, ca_file, verify, verify_and_map, timeout,
    /// handshake_first, min_version, cipher_suites, curve_preferences,
    /// pinned_certs, insecure }`, for clients. Whether the files and names
    /// work is checked when the server builds its TLS configuration.
    /// Loads the files a `tls {}` block names, as nats-server does while
    /// it reads the file (so `-t` fails on a missing certificate), the
    /// error at the `tls` key.
    pub(super) fn tls_files(&mut self, entry: &MapEntry, tls: &TlsOptions) -> bool {
        if !self.load_files {
            return true;
        }
        match crate::tls::load_files(tls) {
            Ok(()) => true,
            Err(message) => {
                self.fail(&entry.key_pos, message);
                false
            }
        }
    }

    pub(super) fn tls(&mut self, value: &Value) -> Option<TlsOptions> {
        let tls = self.tls_block(value, false)?;
        if tls.cert_file.is_none() || tls.key_file.is_none() {
            self.fail(
                &value.pos,
                "tls requires cert_file and key_file".to_string(),
            );
            return None;
        }
        if tls.verifies_clients() && tls.ca_file.is_none() {
            self.fail(&value.pos, "tls verify requires ca_file".to_string());
            return None;
        }
        Some(tls)
    }

    /// `cluster { tls {} }`: the same keys, for routes. Routes always
    /// verify each other (as nats-server, whatever `verify` says), so
    /// `ca_file` is required as well as the certificate and key.
    pub(super) fn cluster_tls(&mut self, value: &Value) -> Option<TlsOptions> {
        let tls = self.tls_block(value, true)?;
        if tls.cert_file.is_none() || tls.key_file.is_none() {
            self.fail(&value.pos, "cluster tls requires cert_file and key_file");
            return None;
        }
        if tls.ca_file.is_none() {
            self.fail(&value.pos, "cluster tls requires ca_file");
            return None;
        }
        Some(tls)
    }

    fn tls_block(&mut self, value: &Value, routes: bool) -> Option<TlsOptions> {
        let block = self.map(value)?;
        let mut tls = TlsOptions::default();
        for entry in block {
            let v = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "cert_file" => tls.cert_file = self.path(v),
                "key_file" => tls.key_file = self.path(v),
                "ca_file" => tls.ca_file = self.path(v),
                "verify" => tls.verify = self.ok(v.as_bool()).unwrap_or(false),
                "verify_and_map" => tls.verify_and_map = self.ok(v.as_bool()).unwrap_or(false),
                "handshake_first" | "first" | "immediate" => {
                    let on = self.ok(v.as_bool()).unwrap_or(false);
                    if routes {
                        self.warnings.push(Warning {
                            pos: entry.key_pos.clone(),
                            message: format!(
                                "{:?} is ignored in cluster tls: routes always start with the TLS handshake",
                                entry.key
                            ),
                        });
                    } else {
                        tls.handshake_first = on;
                    }
                }
                // nats-server takes seconds, as a number (fractions allowed).
                "timeout" => match &v.kind {
                    ValueKind::Integer(n) if *n >= 0 => {
                        tls.timeout = Some(Duration::from_secs(*n as u64))
                    }
                    ValueKind::Float(f) if *f >= 0.0 && f.is_finite() => {
                        tls.timeout = Some(Duration::from_secs_f64(*f))
                    }
                    _ => {
                        tls.timeout = self.duration(entry);
                    }
                },
                "min_version" => tls.min_version = self.string(v),
                "cipher_suites" => tls.cipher_suites = self.string_list(v),
                "curve_preferences" => tls.curve_preferences = self.string_list(v),
                "pinned_certs" => tls.pinned_certs = self.string_list(v),
                // Only a server that connects out (a route) has a peer
                // certificate to skip checking; the client-facing block
                // takes it and ignores it, as nats-server does.
                "insecure" => tls.insecure = self.ok(v.as_bool()).unwrap_or(false),
                "verify_cert_and_check_known_urls" if routes => {
                    self.not_yet(entry, "this cluster TLS option")
                }
                "cert_store"
                | "cert_match"
                | "cert_match_by"
                | "ocsp_peer"
                | "certs"
                | "handshake_first_fallback" => self.not_yet(entry, "this TLS option"),
                _ => self.unknown(entry),
            }
        }
        Some(tls)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::testing::*;

    #[test]
    fn the_tls_block() {
        let (opts, _) = apply_text(
            "tls {\n  cert_file: \"./server.pem\"\n  key_file: './key.pem'\n  ca_file: ca.pem\n  verify: true\n  timeout: 0.5\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  curve_preferences: [X25519]\n  handshake_first: true\n}\n",
        )
        .unwrap();
        let tls = opts.tls.unwrap();
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("./server.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("./key.pem")));
        assert!(tls.verify && tls.handshake_first && !tls.verify_and_map);
        assert_eq!(tls.timeout, Some(Duration::from_millis(500)));
        assert_eq!(tls.cipher_suites, ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]);
        assert_eq!(
            error("tls {\n  cert_file: x\n}\n"),
            "nats.conf:1:5: tls requires cert_file and key_file"
        );
        assert_eq!(
            error("tls {\n  cert_file: x\n  key_file: y\n  verify: true\n}\n"),
            "nats.conf:1:5: tls verify requires ca_file"
        );
        assert_eq!(
            error("tls {\n  cert_file: x\n  key_file: y\n  verfy: true\n}\n"),
            "nats.conf:4:3: unknown field \"verfy\""
        );
    }

    #[test]
    fn the_cluster_tls_block() {
        let opts = options(
            "cluster {\n  listen: 127.0.0.1:-1\n  tls {\n    cert_file: node.pem\n    key_file: node-key.pem\n    \
             ca_file: ca.pem\n    timeout: 3\n    insecure: true\n    min_version: \"1.3\"\n    \
             pinned_certs: [abcd]\n  }\n  routes: [ nats-route://127.0.0.1:6223 ]\n}\n",
        );
        let c = opts.cluster.unwrap();
        let tls = c.tls.expect("cluster tls");
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("node.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("node-key.pem")));
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert_eq!(tls.timeout(), Duration::from_secs(3));
        assert!(tls.insecure);
        assert_eq!(tls.min_version.as_deref(), Some("1.3"));
        assert_eq!(tls.pinned_certs, ["abcd"]);
        // The client-facing block is not affected by the cluster's.
        assert!(opts.tls.is_none());
        // The handshake timeout defaults to nats-server's 2 s.
        let c = options("cluster { tls { cert_file: a, key_file: b, ca_file: c, verify: true } }")
            .cluster
            .unwrap();
        assert_eq!(c.tls.unwrap().timeout(), crate::tls::DEFAULT_TLS_TIMEOUT);
        // Routes always verify each other: ca_file is required.
        assert_eq!(
            error("cluster {\n  port: 6222\n  tls {\n    cert_file: a\n    key_file: b\n  }\n}\n"),
            "nats.conf:3:7: cluster tls requires ca_file"
        );
        assert_eq!(
            error("cluster {\n  tls { ca_file: c, key_file: b }\n}\n"),
            "nats.conf:2:7: cluster tls requires cert_file and key_file"
        );
        let mapped = options(
            "cluster {\n  port: 6222\n  tls {\n    cert_file: a, key_file: b, ca_file: c\n    verify_and_map: true\n  }\n}\n",
        );
        assert!(mapped.cluster.unwrap().tls.unwrap().verify_and_map);
        assert_eq!(
            error(
                "cluster {\n  tls {\n    cert_file: a, key_file: b, ca_file: c\n    verfy: true\n  }\n}\n"
            ),
            "nats.conf:4:5: unknown field \"verfy\""
        );
        assert_eq!(
            warnings(
                "cluster { tls { cert_file: a, key_file: b, ca_file: c, handshake_first: true } }"
            ),
            [
                "nats.conf:1:56: \"handshake_first\" is ignored in cluster tls: routes always start with the TLS handshake"
            ]
        );
        // In the client-facing block `insecure` is taken and has no effect.
        let tls = options("tls { cert_file: a, key_file: b, insecure: true }")
            .tls
            .unwrap();
        assert!(tls.insecure);
    }
}

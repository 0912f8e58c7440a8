//! What a configuration reload (SIGHUP) may change, as nats-server decides
//! it: [`refused`] names the first setting that cannot change on a running
//! server, in nats-server's words (`config reload not supported for Port:
//! old=4222, new=4333`), and [`report`] lists the `Reloaded: …` lines for
//! what did change. Applying the change is the server's job
//! ([`crate::server::Server::reload`]); this module only compares two
//! [`Options`] and touches nothing.
//!
//! Logging settings are reported by the logger when it applies them, and
//! the `cluster {}` block by [`crate::route::Cluster`]'s own reload.

use std::fmt::Display;

use rnats_conf::format_duration;

use crate::options::{AuthOptions, Options, TrustOptions};

/// The first setting that differs and cannot be reloaded, as nats-server
/// reports it (Go's field name, then both values).
pub(crate) fn refused(old: &Options, new: &Options) -> Result<(), String> {
    fn same<T: PartialEq + Display>(field: &str, old: T, new: T) -> Result<(), String> {
        if old == new {
            Ok(())
        } else {
            Err(format!(
                "config reload not supported for {field}: old={old}, new={new}"
            ))
        }
    }
    let name = |o: &Options| o.server_name.clone().unwrap_or_default();
    same("ServerName", name(old), name(new))?;
    same("Host", &old.host, &new.host)?;
    same("Port", old.port, new.port)?;
    same("MaxSubs", old.max_subscriptions, new.max_subscriptions)?;
    let duration = |d| format_duration(d);
    same(
        "LameDuckDuration",
        duration(old.lame_duck_duration),
        duration(new.lame_duck_duration),
    )?;
    same(
        "LameDuckGracePeriod",
        duration(old.lame_duck_grace_period),
        duration(new.lame_duck_grace_period),
    )?;
    trust_refused(old.auth.trust.as_ref(), new.auth.trust.as_ref())
}

/// Operator mode: the operators, the system account and the kind of
/// resolver are fixed; preloaded account JWTs may change.
fn trust_refused(old: Option<&TrustOptions>, new: Option<&TrustOptions>) -> Result<(), String> {
    let (old, new) = match (old, new) {
        (None, None) => return Ok(()),
        (Some(old), Some(new)) => (old, new),
        _ => {
            return Err(
                "config reload does not support moving to or from an account resolver".into(),
            );
        }
    };
    if old.operators != new.operators {
        return Err("config reload not supported for TrustedOperators".into());
    }
    if old.system_account != new.system_account {
        return Err(format!(
            "config reload not supported for SystemAccount: old={}, new={}",
            old.system_account.as_deref().unwrap_or(""),
            new.system_account.as_deref().unwrap_or("")
        ));
    }
    if old.resolver != new.resolver {
        return Err("config reload not supported for AccountResolver".into());
    }
    Ok(())
}

/// Whether who may log in, or what they may do, changed: connected
/// clients must then be checked again.
pub(crate) fn auth_changed(old: &Options, new: &Options) -> bool {
    let maps = |o: &Options| o.tls.as_ref().is_some_and(|t| t.verify_and_map);
    old.auth != new.auth || maps(old) != maps(new)
}

/// nats-server's `Reloaded: …` lines for what changed, in its order.
pub(crate) fn report(old: &Options, new: &Options) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = |changed: bool, text: String| {
        if changed {
            lines.push(text);
        }
    };
    line(
        old.max_connections != new.max_connections,
        format!("Reloaded: max_connections = {}", new.max_connections),
    );
    auth_report(&old.auth, &new.auth, &mut line);
    line(
        old.ping_interval != new.ping_interval,
        format!(
            "Reloaded: ping_interval = {}",
            format_duration(new.ping_interval)
        ),
    );
    line(
        old.ping_max != new.ping_max,
        format!("Reloaded: ping_max = {}", new.ping_max),
    );
    line(
        old.max_control_line != new.max_control_line,
        format!("Reloaded: max_control_line = {}", new.max_control_line),
    );
    line(
        old.max_payload != new.max_payload,
        format!("Reloaded: max_payload = {}", new.max_payload),
    );
    line(
        old.max_pending != new.max_pending,
        format!("Reloaded: max_pending = {}", new.max_pending),
    );
    line(
        old.write_deadline != new.write_deadline,
        format!(
            "Reloaded: write_deadline = {}",
            format_duration(new.write_deadline)
        ),
    );
    line(
        old.client_advertise != new.client_advertise,
        format!(
            "Reload: client_advertise = {}",
            new.client_advertise.as_deref().unwrap_or("")
        ),
    );
    line(
        old.connect_error_reports != new.connect_error_reports,
        format!(
            "Reloaded: connect_error_reports = {}",
            new.connect_error_reports
        ),
    );
    line(
        old.reconnect_error_reports != new.reconnect_error_reports,
        format!(
            "Reloaded: reconnect_error_reports = {}",
            new.reconnect_error_reports
        ),
    );
    lines
}

fn auth_report(old: &AuthOptions, new: &AuthOptions, line: &mut impl FnMut(bool, String)) {
    line(
        old.username != new.username,
        "Reloaded: authorization username".into(),
    );
    line(
        old.password != new.password,
        "Reloaded: authorization password".into(),
    );
    line(
        old.token != new.token,
        "Reloaded: authorization token".into(),
    );
    if old.timeout != new.timeout {
        let seconds = new.timeout.map_or(0.0, |t| t.as_secs_f64());
        line(true, format!("Reloaded: authorization timeout = {seconds}"));
    }
    line(
        old.users != new.users || old.default_permissions != new.default_permissions,
        "Reloaded: authorization users".into(),
    );
    line(
        old.nkeys != new.nkeys,
        "Reloaded: authorization nkey users".into(),
    );
    line(
        old.accounts != new.accounts
            || old.users != new.users
            || old.no_auth_user != new.no_auth_user
            || old.trust.as_ref().map(|t| &t.preload) != new.trust.as_ref().map(|t| &t.preload),
        "Reloaded: accounts".into(),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn fixed_settings_are_refused_with_nats_servers_words() {
        let old = Options::for_tests();
        let mut new = old.clone();
        assert_eq!(refused(&old, &new), Ok(()));
        new.port = 4333;
        assert_eq!(
            refused(&old, &new),
            Err("config reload not supported for Port: old=-1, new=4333".into())
        );
        new.server_name = Some("y".into());
        assert_eq!(
            refused(&old, &new),
            Err("config reload not supported for ServerName: old=, new=y".into()),
            "the first field in nats-server's order is named"
        );
        let mut new = old.clone();
        new.lame_duck_duration = Duration::from_secs(60);
        assert_eq!(
            refused(&old, &new),
            Err("config reload not supported for LameDuckDuration: old=2m0s, new=1m0s".into())
        );
    }

    #[test]
    fn changed_limits_are_reported() {
        let old = Options::for_tests();
        let mut new = old.clone();
        assert!(report(&old, &new).is_empty());
        new.max_payload = 2000;
        new.ping_interval = Duration::from_secs(3);
        new.auth.timeout = Some(Duration::from_secs(3));
        assert_eq!(
            report(&old, &new),
            [
                "Reloaded: authorization timeout = 3",
                "Reloaded: ping_interval = 3s",
                "Reloaded: max_payload = 2000",
            ]
        );
        assert!(auth_changed(&old, &new));
    }
}

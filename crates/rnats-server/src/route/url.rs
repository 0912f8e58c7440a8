//! Route URLs: `nats-route://[user:pass@]host:port` as configured in
//! `routes` or learned from gossip.

use tracing::error;

/// `nats-route://[user:pass@]host:port` (also `nats://`, `route://`, or a
/// bare `host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    pub host: String,
    pub port: i32,
    pub user: Option<String>,
    pub pass: Option<String>,
}

impl RouteUrl {
    pub fn parse(url: &str) -> Option<RouteUrl> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((auth, hp)) => (Some(auth), hp),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p),
                None => (hostport, ""),
            }
        };
        let port = if port.is_empty() {
            i32::from(crate::options::DEFAULT_CLUSTER_PORT)
        } else {
            port.parse().ok()?
        };
        let (user, pass) = match auth {
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(a)), None),
            },
            None => (None, None),
        };
        Some(RouteUrl {
            host: if host.is_empty() {
                "127.0.0.1".into()
            } else {
                host.into()
            },
            port,
            user,
            pass,
        })
    }

    pub(super) fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&rnats_proto::url::percent_decode(s)).into_owned()
}

/// The routes of a `routes` list that parse (the others are logged).
pub(super) fn route_urls(routes: &[String]) -> Vec<RouteUrl> {
    routes
        .iter()
        .filter_map(|r| {
            let parsed = RouteUrl::parse(r);
            if parsed.is_none() {
                let shown = rnats_proto::url::redact_password(r);
                error!("Error parsing route URL {:?}", shown);
            }
            parsed
        })
        .collect()
}

/// The first host name (not an IP address) among `urls`.
pub(super) fn first_host_name(urls: &[RouteUrl]) -> Option<String> {
    urls.iter()
        .map(|u| u.host.clone())
        .find(|h| h.parse::<std::net::IpAddr>().is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls() {
        let u = RouteUrl::parse("nats-route://ru:p%40ss@127.0.0.1:6222").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 6222);
        assert_eq!(u.user.as_deref(), Some("ru"));
        assert_eq!(u.pass.as_deref(), Some("p@ss"));
        let u = RouteUrl::parse("nats://[::1]:7000/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.user), ("::1", 7000, None));
        assert_eq!(RouteUrl::parse("nats://h:-1").unwrap().port, -1);
        assert_eq!(RouteUrl::parse("h").unwrap().port, 6222);
    }

    #[test]
    fn percent_signs_before_other_characters_are_kept() {
        let u = RouteUrl::parse("nats://u:%aé%zz%4@h:1").unwrap();
        assert_eq!(u.pass.as_deref(), Some("%aé%zz%4"));
        let u = RouteUrl::parse("nats://u:%F0%9F%A6%80@h:1").unwrap();
        assert_eq!(u.pass.as_deref(), Some("🦀"));
    }
}

//! Clustering: route connections between servers, as nats-server 2.9
//! speaks them (see [`rnats_proto::route`]).
//!
//! Every server of a cluster keeps one route to every other (a full mesh).
//! A route carries interest (`RS+`/`RS-`: the subjects the other side's
//! clients subscribe to, per account, with queue weights) and messages
//! (`RMSG`/`HMSG`: a message published here that the other side has
//! interest in, sent once per route with the queue groups it is meant for).
//! Messages that arrive on a route go to local clients only, never to other
//! routes, so nothing loops.
//!
//! Remote interest lives in the account indexes as subscriptions owned by
//! the route's [`Client`]: one per subject, and one per queue group (so a
//! remote server counts as one member of a group). Local interest is
//! reference-counted here ([`Cluster::local_sub`]) so a route hears `RS+`
//! for the first plain subscription on a subject and `RS-` for the last;
//! queue subscriptions announce their new weight each time.
//!
//! Routes are solicited (configured `routes`, retried with backoff for as
//! long as the server runs, and implicit ones learned from peers' gossip) or
//! accepted on the route port. A second route to a server already connected
//! is a duplicate: the one solicited by the server with the smaller id wins
//! (else the first one), so both ends keep the same connection.
//!
//! With `cluster { tls {} }` every route is mutual TLS, and the handshake
//! comes first, right after the TCP connection and before INFO or CONNECT
//! (unlike client connections): the accepting server is the TLS server,
//! the soliciting one the TLS client, and each checks the other's
//! certificate against `ca_file`. A failed handshake closes only that
//! connection; a solicited route is retried as after any other failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rnats_proto::errors;
use rnats_proto::parser::Span;
use rnats_proto::route::{
    self as proto, RouteConnect, RouteError, RouteInfo, RouteOp, RouteParsed, SubjectPermission,
};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::{Level, debug, enabled, error, info, trace, warn};

use crate::account::{Account, RESPONSE_PREFIX, Routes};
use crate::auth::Secret;
use crate::client::{self, Client, CloseReason, closed, lock};
use crate::delivery::{Deliveries, Message, Sizes};
use crate::options::{ClusterOptions, SubjectRuleConfig};
use crate::permissions::Rule;
use crate::server::{COMPATIBLE_VERSION, ServerShared, VERSION};
use crate::subscription::Subscription;
use crate::tls::{RouteTls, TlsConfigError};

/// How long a route has to send CONNECT, unless configured.
const DEFAULT_ROUTE_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnect delays for solicited routes: from the first to the longest.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);
/// nats-server does not limit a route's control lines; this bound is far
/// above any real one (a long subject and its queue names) and limits what
/// a peer that has not logged in yet can make this server hold.
const MAX_ROUTE_CONTROL_LINE: usize = 1024 * 1024;
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

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

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The routes of a `routes` list that parse (the others are logged).
fn route_urls(routes: &[String]) -> Vec<RouteUrl> {
    routes
        .iter()
        .filter_map(|r| {
            let parsed = RouteUrl::parse(r);
            if parsed.is_none() {
                error!("Error parsing route URL {:?}", r);
            }
            parsed
        })
        .collect()
}

/// The first host name (not an IP address) among `urls`.
fn first_host_name(urls: &[RouteUrl]) -> Option<String> {
    urls.iter()
        .map(|u| u.host.clone())
        .find(|h| h.parse::<std::net::IpAddr>().is_err())
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Local interest announced to routes: (account, subject, queue) -> count.
type InterestKey = (Arc<str>, Bytes, Option<Bytes>);

/// A registered route.
struct RouteEntry {
    client: Arc<Client>,
    /// Whether this server solicited it.
    solicited: bool,
    /// The configured URL it was dialled at (a reload may remove it).
    url: Option<RouteUrl>,
    /// The credentials an accepted route logged in with (a reload may
    /// change what is required).
    login: Option<(Option<String>, Option<String>)>,
    /// The client URLs the peer announced.
    connect_urls: Vec<String>,
}

/// Route permissions in force, as rules.
#[derive(Default)]
struct RouteRules {
    /// `permissions.import`: the local interest routes may hear of.
    import: Option<Rule>,
    /// `permissions.export`: the remote interest this server accepts.
    export: Option<Arc<Rule>>,
}

impl RouteRules {
    fn of(opts: &ClusterOptions) -> RouteRules {
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
    fn imports(&self, subject: &[u8]) -> bool {
        self.import
            .as_ref()
            .is_none_or(|rule| rule.allows_subscription(subject))
    }

    /// Whether a message that came in on a route may be delivered here:
    /// the peer only has interest this server announced, but a wildcard
    /// announced may also cover subjects `import` denies.
    fn imports_message(&self, subject: &[u8]) -> bool {
        self.import
            .as_ref()
            .is_none_or(|rule| !rule.denies(subject))
    }

    /// Whether a peer's interest in `subject` is accepted.
    fn exports(&self, subject: &[u8]) -> bool {
        self.export
            .as_ref()
            .is_none_or(|rule| rule.allows_subscription(subject))
    }
}

/// A server's side of its cluster.
pub struct Cluster {
    /// The settings in force: a reload may replace them (see
    /// [`Cluster::reload`]), but not the name, host or port.
    opts: RwLock<Arc<ClusterOptions>>,
    server_id: String,
    /// The cluster's name: configured, or adopted from the first peer.
    name: Mutex<String>,
    /// Where routes are accepted (known once bound).
    listen: Mutex<Option<SocketAddr>>,
    /// This server's client URLs, for `connect_urls`.
    client_urls: Mutex<Vec<String>>,
    /// The `connect_urls` clients were last told.
    advertised: Mutex<Vec<String>>,
    /// Registered routes by the peer's server id.
    routes: Mutex<HashMap<String, RouteEntry>>,
    /// Local interest, counted; the lock also orders what routes are told.
    interest: Mutex<HashMap<InterestKey, u32>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Implicit routes being tried, by URL (not to try one twice at once).
    trying: Mutex<Vec<String>>,
    /// Route URLs this server solicits explicitly.
    explicit: Mutex<Vec<RouteUrl>>,
    /// The first host name among them: the name checked in the
    /// certificate of a route dialled by IP address (see `route_handshake`).
    tls_name: Mutex<Option<String>>,
    rules: RwLock<Arc<RouteRules>>,
    /// Bumped with every change of `rules`; route sessions then re-read
    /// them (woken by `rules_changed`).
    rules_generation: AtomicU64,
    rules_changed: Notify,
    /// TLS for every route, when configured.
    tls: RwLock<Option<Arc<RouteTls>>>,
}

impl Cluster {
    /// Fails when the route TLS configuration cannot be used (unreadable
    /// files, unknown cipher suites, no `ca_file`...).
    pub fn new(opts: ClusterOptions, server_id: String) -> Result<Cluster, TlsConfigError> {
        let tls = opts
            .tls
            .as_ref()
            .map(RouteTls::new)
            .transpose()?
            .map(Arc::new);
        let name = opts.name.clone().unwrap_or_else(|| {
            // A made-up name, replaced by the first peer's.
            let id: String = server_id.chars().skip(1).take(22).collect();
            id
        });
        let explicit = route_urls(&opts.routes);
        let rules = RouteRules::of(&opts);
        Ok(Cluster {
            opts: RwLock::new(Arc::new(opts)),
            server_id,
            name: Mutex::new(name),
            listen: Mutex::new(None),
            client_urls: Mutex::new(Vec::new()),
            advertised: Mutex::new(Vec::new()),
            routes: Mutex::new(HashMap::new()),
            interest: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            trying: Mutex::new(Vec::new()),
            tls_name: Mutex::new(first_host_name(&explicit)),
            explicit: Mutex::new(explicit),
            rules: RwLock::new(Arc::new(rules)),
            rules_generation: AtomicU64::new(0),
            rules_changed: Notify::new(),
            tls: RwLock::new(tls),
        })
    }

    /// The settings in force.
    fn opts(&self) -> Arc<ClusterOptions> {
        read_lock(&self.opts).clone()
    }

    fn rules(&self) -> Arc<RouteRules> {
        read_lock(&self.rules).clone()
    }

    fn tls(&self) -> Option<Arc<RouteTls>> {
        read_lock(&self.tls).clone()
    }

    /// Whether `url` is (still) a configured route.
    fn is_explicit(&self, url: &RouteUrl) -> bool {
        lock(&self.explicit).contains(url)
    }

    pub fn name(&self) -> String {
        lock(&self.name).clone()
    }

    /// The address routes are accepted on (after [`start`]).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        *lock(&self.listen)
    }

    /// Server ids of the connected routes.
    pub fn route_ids(&self) -> Vec<String> {
        lock(&self.routes).keys().cloned().collect()
    }

    pub fn route_count(&self) -> usize {
        lock(&self.routes).len()
    }

    /// What clients are told in `connect_urls`, as nats-server tells them:
    /// this server's client URLs and those its peers advertise, or nothing
    /// while no peer advertises any (and always nothing with
    /// `no_advertise`).
    pub fn connect_urls(&self) -> Vec<String> {
        if self.opts().no_advertise {
            return Vec::new();
        }
        let mut peers: Vec<String> = Vec::new();
        for entry in lock(&self.routes).values() {
            for url in &entry.connect_urls {
                if !peers.contains(url) {
                    peers.push(url.clone());
                }
            }
        }
        if peers.is_empty() {
            return peers;
        }
        let mut urls = lock(&self.client_urls).clone();
        urls.retain(|own| !peers.contains(own));
        urls.extend(peers);
        urls
    }

    /// Whether `connect_urls` changed since the last call that said so
    /// (clients are sent an INFO update then; not when it became empty).
    pub(crate) fn connect_urls_changed(&self) -> bool {
        let now = self.connect_urls();
        let mut last = lock(&self.advertised);
        let changed = *last != now && !now.is_empty();
        *last = now;
        changed
    }

    /// What a local subscription stands for on the routes: its own
    /// subject, and for each stream its account imports, the subject in
    /// the exporting account (where routes carry such messages). All of it
    /// is counted; what routes hear of is filtered by `import` when sent,
    /// so a reload that changes `import` can tell them the difference.
    fn interest_of(&self, sub: &Subscription, mut each: impl FnMut(InterestKey)) {
        if sub.client.is_route {
            return;
        }
        each((
            sub.account.name.as_str().into(),
            sub.subject.clone(),
            sub.queue.clone(),
        ));
        let Some(routes) = sub.account.routes() else {
            return;
        };
        for import in &routes.imported {
            let (Some(from), Some(subject)) = (
                import.from.upgrade(),
                import.interest_in_exporter(&sub.subject),
            ) else {
                continue;
            };
            each((from.name.as_str().into(), subject.into(), sub.queue.clone()));
        }
    }

    /// A local subscription was added: routes hear `RS+` for the first
    /// plain one on its subject, and every queue weight change.
    pub(crate) fn local_sub(&self, sub: &Subscription) {
        let mut interest = lock(&self.interest);
        let rules = self.rules();
        let mut lines = BytesMut::new();
        self.interest_of(sub, |key| {
            let (account, subject, queue) = key.clone();
            let count = interest.entry(key).or_insert(0);
            *count += 1;
            if (queue.is_none() && *count > 1) || !rules.imports(&subject) {
                return;
            }
            let weight = *count;
            proto::rs_plus(
                &mut lines,
                account.as_bytes(),
                &subject,
                queue.as_deref().map(|q| (q, weight)),
            );
        });
        if !lines.is_empty() {
            self.send_to_all(&lines, None);
        }
        drop(interest);
    }

    /// Interest in the answers to requests that crossed into `account`
    /// here (once per account: its reply subjects share a prefix).
    pub(crate) fn announce_responses(&self, account: &Account) {
        if account.responses_announced.swap(true, Ordering::AcqRel) {
            return;
        }
        let subject = Bytes::from(account.response_interest());
        let mut interest = lock(&self.interest);
        let key: InterestKey = (account.name.as_str().into(), subject.clone(), None);
        *interest.entry(key).or_insert(0) += 1;
        if self.rules().imports(&subject) {
            let mut line = BytesMut::new();
            proto::rs_plus(&mut line, account.name.as_bytes(), &subject, None);
            self.send_to_all(&line, None);
        }
        drop(interest);
    }

    /// A local subscription is gone: `RS-` after the last one (a queue
    /// group's new weight otherwise).
    pub(crate) fn local_unsub(&self, sub: &Subscription) {
        self.local_unsubs(std::slice::from_ref(&sub));
    }

    pub(crate) fn local_unsubs<S: std::ops::Deref<Target = Subscription>>(&self, subs: &[S]) {
        let mut interest = lock(&self.interest);
        let rules = self.rules();
        let mut lines = BytesMut::new();
        for sub in subs {
            self.interest_of(sub, |key| {
                let Some(count) = interest.get_mut(&key) else {
                    return;
                };
                *count -= 1;
                let (account, subject, queue) = &key;
                let told = rules.imports(subject);
                if *count == 0 {
                    interest.remove(&key);
                    if told {
                        proto::rs_minus(&mut lines, account.as_bytes(), subject, queue.as_deref());
                    }
                } else if let Some(queue) = queue.as_deref()
                    && told
                {
                    proto::rs_plus(
                        &mut lines,
                        account.as_bytes(),
                        subject,
                        Some((queue, *count)),
                    );
                }
            });
        }
        if !lines.is_empty() {
            self.send_to_all(&lines, None);
        }
        drop(interest);
    }

    /// Sends a route all the local interest it may hear of again (after
    /// the peer's permissions changed: it ignores what it already has).
    fn resend_interest(&self, client: &Client) {
        let interest = lock(&self.interest);
        client.send_now(&self.all_interest(&interest));
        drop(interest);
    }

    /// `RS+` for all the local interest routes may hear of.
    fn all_interest(&self, interest: &HashMap<InterestKey, u32>) -> BytesMut {
        let rules = self.rules();
        let mut all = BytesMut::new();
        for ((account, subject, queue), count) in interest {
            if rules.imports(subject) {
                proto::rs_plus(
                    &mut all,
                    account.as_bytes(),
                    subject,
                    queue.as_deref().map(|q| (q, *count)),
                );
            }
        }
        all
    }

    /// Queues `bytes` for every registered route but `except`.
    fn send_to_all(&self, bytes: &[u8], except: Option<u64>) {
        for entry in lock(&self.routes).values() {
            if Some(entry.client.id) == except {
                continue;
            }
            if enabled!(Level::TRACE) {
                for line in bytes.split(|b| *b == b'\n').filter(|l| l.len() > 1) {
                    trace!(
                        "{} - ->> [{}]",
                        entry.client.tag,
                        String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
                    );
                }
            }
            entry.client.send_now(bytes);
        }
    }

    /// The INFO this server sends on its routes.
    fn route_info(&self, shared: &ServerShared) -> RouteInfo {
        let listen = self.listen_addr();
        let opts = self.opts();
        let perms = opts.permissions.as_ref();
        let advertised = opts.advertise.as_deref().and_then(RouteUrl::parse);
        // As nats-server: the advertised URL, which peers pass on in gossip.
        let ip = advertised
            .as_ref()
            .map(|adv| format!("nats-route://{}/", adv.addr()));
        let (host, port) = match advertised {
            Some(adv) => (adv.host, adv.port.max(0) as u16),
            None => (opts.host.clone(), listen.map_or(0, |a| a.port())),
        };
        RouteInfo {
            server_id: self.server_id.clone(),
            server_name: shared.name.clone(),
            version: COMPATIBLE_VERSION.into(),
            proto: 2,
            go: format!("rnats {VERSION}"),
            host,
            port,
            headers: true,
            auth_required: opts.username.is_some(),
            tls_required: self.tls().is_some(),
            tls_verify: self.tls().is_some(),
            max_payload: shared.opts.max_payload,
            nonce: None,
            ip,
            cluster: self.name(),
            // As nats-server: a server that does not advertise itself to
            // clients does not ask its peers to either.
            connect_urls: (!opts.no_advertise).then(|| lock(&self.client_urls).clone()),
            lnoc: true,
            import: perms
                .and_then(|p| p.import.as_ref())
                .map(subject_permission),
            export: perms
                .and_then(|p| p.export.as_ref())
                .map(subject_permission),
        }
    }

    /// Registers a route whose peer introduced itself; false if it is a
    /// duplicate that loses to the route already there (the caller closes
    /// it). The local interest is sent on the new route before any update
    /// can reach it.
    fn register(
        &self,
        remote_id: &str,
        client: &Arc<Client>,
        url: Option<RouteUrl>,
        login: Option<(Option<String>, Option<String>)>,
        urls: Vec<String>,
    ) -> bool {
        let solicited = url.is_some();
        let interest = lock(&self.interest);
        let mut routes = lock(&self.routes);
        if let Some(existing) = routes.get(remote_id) {
            // The route solicited by the smaller server id is kept by both ends.
            let preferred = |solicited_here: bool| {
                let solicitor = if solicited_here {
                    self.server_id.as_str()
                } else {
                    remote_id
                };
                solicitor == self.server_id.as_str().min(remote_id)
            };
            if existing.client.is_closing()
                || (preferred(solicited) && !preferred(existing.solicited))
            {
                debug!(
                    "{} - Replacing duplicate route to {:?}",
                    existing.client.tag, remote_id
                );
                existing.client.close(CloseReason::DuplicateRoute, true);
            } else {
                return false;
            }
        }
        debug!("{} - Registering remote route {:?}", client.tag, remote_id);
        let all = self.all_interest(&interest);
        if enabled!(Level::TRACE) {
            for line in all[..].split(|b| *b == b'\n').filter(|l| l.len() > 1) {
                trace!(
                    "{} - ->> [{}]",
                    client.tag,
                    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
                );
            }
        }
        client.send_now(&all);
        debug!("{} - Sent local subscriptions to route", client.tag);
        routes.insert(
            remote_id.to_string(),
            RouteEntry {
                client: client.clone(),
                solicited,
                url,
                login,
                connect_urls: urls,
            },
        );
        drop(routes);
        drop(interest);
        true
    }

    fn unregister(&self, remote_id: &str, client: &Client) -> bool {
        let mut routes = lock(&self.routes);
        if routes
            .get(remote_id)
            .is_some_and(|e| e.client.id == client.id)
        {
            routes.remove(remote_id);
            return true;
        }
        false
    }

    fn is_connected(&self, remote_id: &str) -> bool {
        lock(&self.routes).contains_key(remote_id)
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// Checks a reloaded `cluster {}` block (SIGHUP) before anything is
    /// applied: its name, host and port cannot change, nor TLS be turned
    /// on or off, as on nats-server. Returns the new route TLS, if any.
    pub(crate) fn prepare_reload(
        &self,
        new: &ClusterOptions,
    ) -> Result<Option<Arc<RouteTls>>, String> {
        let old = self.opts();
        let unchanged = |what: &str, old: String, new: String| {
            if old == new {
                Ok(())
            } else {
                Err(format!(
                    "config reload not supported for cluster {what}: old={old}, new={new}"
                ))
            }
        };
        unchanged(
            "name",
            old.name.clone().unwrap_or_default(),
            new.name.clone().unwrap_or_default(),
        )?;
        unchanged("host", old.host.clone(), new.host.clone())?;
        unchanged("port", old.port.to_string(), new.port.to_string())?;
        match (&old.tls, &new.tls) {
            (Some(_), Some(tls)) => RouteTls::new(tls)
                .map(|t| Some(Arc::new(t)))
                .map_err(|e| e.to_string()),
            (None, None) => Ok(None),
            _ => Err("route TLS cannot be turned on or off by a reload; restart the server".into()),
        }
    }

    /// Applies a reloaded `cluster {}` block checked by [`prepare_reload`]:
    /// new route TLS, credentials and timeout for the connections that
    /// come next, accepted routes whose login no longer passes closed;
    /// routes added are dialled and routes removed closed and no longer
    /// dialled; new permissions announced (routes hear `RS+`/`RS-` for what
    /// `import` now allows or denies, and are asked to send their interest
    /// again for `export`); `no_advertise` and the advertised URL as
    /// changed.
    ///
    /// [`prepare_reload`]: Cluster::prepare_reload
    pub(crate) fn apply_reload(
        self: &Arc<Self>,
        shared: &Arc<ServerShared>,
        new: &ClusterOptions,
        tls: Option<Arc<RouteTls>>,
    ) {
        let old = self.opts();
        *write_lock(&self.opts) = Arc::new(new.clone());
        if tls.is_some() {
            *write_lock(&self.tls) = tls;
        }
        if old.permissions != new.permissions {
            self.change_rules(RouteRules::of(new));
        }
        if (&old.username, &old.password) != (&new.username, &new.password) {
            // Checked outside the routes lock: a bcrypt check takes a while.
            let accepted: Vec<_> = lock(&self.routes)
                .values()
                .filter_map(|e| Some((e.client.clone(), e.login.clone()?)))
                .collect();
            for (client, (user, pass)) in accepted {
                if !route_login_ok(new, user.as_deref(), pass.as_deref()) {
                    error!("{} - authentication error", client.tag);
                    client.err_and_close(
                        errors::AUTHORIZATION_VIOLATION,
                        CloseReason::AuthenticationViolation,
                    );
                }
            }
        }
        let (before, after) = (lock(&self.explicit).clone(), route_urls(&new.routes));
        *lock(&self.explicit) = after.clone();
        {
            let mut name = lock(&self.tls_name);
            if name.is_none() {
                *name = first_host_name(&after);
            }
        }
        for entry in lock(&self.routes).values() {
            if entry
                .url
                .as_ref()
                .is_some_and(|u| before.contains(u) && !after.contains(u))
            {
                info!(
                    "{} - Route removed from the configuration",
                    entry.client.tag
                );
                entry.client.close(CloseReason::RouteRemoved, true);
            }
        }
        for url in after.into_iter().filter(|u| !before.contains(u)) {
            let (shared, cluster) = (shared.clone(), self.clone());
            self.spawn(solicit(shared, cluster, url, true));
        }
        // Peers learn the new permissions and client URLs (and send their
        // interest again, which the new `export` may now take).
        let mut update = self.route_info(shared);
        update.connect_urls = Some(if new.no_advertise {
            Vec::new()
        } else {
            lock(&self.client_urls).clone()
        });
        self.send_to_all(&update.to_protocol_line(), None);
        shared.cluster_changed();
        info!("Reloaded: cluster");
    }

    /// New route permissions: routes hear `RS+` for local interest the
    /// new `import` allows and the old did not, `RS-` for the reverse; the
    /// route sessions re-apply `export` to the peers' interest.
    fn change_rules(&self, new: RouteRules) {
        let interest = lock(&self.interest);
        let old = self.rules();
        let mut lines = BytesMut::new();
        for ((account, subject, queue), count) in interest.iter() {
            match (old.imports(subject), new.imports(subject)) {
                (false, true) => proto::rs_plus(
                    &mut lines,
                    account.as_bytes(),
                    subject,
                    queue.as_deref().map(|q| (q, *count)),
                ),
                (true, false) => {
                    proto::rs_minus(&mut lines, account.as_bytes(), subject, queue.as_deref())
                }
                _ => {}
            }
        }
        *write_lock(&self.rules) = Arc::new(new);
        self.rules_generation.fetch_add(1, Ordering::AcqRel);
        if !lines.is_empty() {
            self.send_to_all(&lines, None);
        }
        drop(interest);
        self.rules_changed.notify_waiters();
    }

    /// Stops soliciting and closes every route.
    pub(crate) fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for entry in lock(&self.routes).values() {
            entry.client.close(CloseReason::ServerShutdown, true);
        }
    }
}

/// Binds the route port and starts accepting and soliciting routes.
pub(crate) async fn start(
    shared: &Arc<ServerShared>,
    cluster: &Arc<Cluster>,
) -> std::io::Result<()> {
    let opts = cluster.opts();
    let listener = TcpListener::bind((opts.host.as_str(), opts.bind_port())).await?;
    let addr = listener.local_addr()?;
    *lock(&cluster.listen) = Some(addr);
    *lock(&cluster.client_urls) = own_client_urls(shared);
    info!("Cluster name is {}", cluster.name());
    if opts.name.is_none() {
        warn!("Cluster name was dynamically generated, consider setting one");
    }
    // As nats-server: the configured host, with the bound port.
    let shown = RouteUrl {
        host: opts.host.clone(),
        port: i32::from(addr.port()),
        user: None,
        pass: None,
    };
    info!("Listening for route connections on {}", shown.addr());
    if cluster.tls().is_some_and(|t| t.opts.insecure) {
        warn!(
            "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!"
        );
    }
    {
        let (shared, cluster2) = (shared.clone(), cluster.clone());
        cluster.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let (shared, cluster) = (shared.clone(), cluster2.clone());
                        tokio::spawn(async move {
                            run_route(shared, cluster, stream, peer, None).await;
                        });
                    }
                    Err(e) => {
                        error!("Error accepting route connection: {}", e);
                        sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    for url in lock(&cluster.explicit).clone() {
        let (shared, c) = (shared.clone(), cluster.clone());
        cluster.spawn(solicit(shared, c, url, true));
    }
    Ok(())
}

/// The client URLs of this server: its advertised host, or for a wildcard
/// address the machine's outgoing address.
fn own_client_urls(shared: &ServerShared) -> Vec<String> {
    let port = shared.client_port();
    let host = &shared.opts.host;
    let ip: Option<std::net::IpAddr> = host.parse().ok();
    match ip {
        Some(ip) if ip.is_unspecified() => {
            let out = std::net::UdpSocket::bind("0.0.0.0:0")
                .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
                .and_then(|s| s.local_addr());
            match out {
                Ok(a) if !a.ip().is_unspecified() => vec![format!("{}:{}", a.ip(), port)],
                _ => vec![format!("127.0.0.1:{port}")],
            }
        }
        Some(std::net::IpAddr::V6(v6)) => vec![format!("[{v6}]:{port}")],
        _ => vec![format!("{host}:{port}")],
    }
}

/// Keeps a route to `url` connected: retried with backoff for as long as
/// the server runs (explicit routes), or, as nats-server does for
/// implicit routes, tried once more than `connect_retries` each time it
/// is not connected.
async fn solicit(shared: Arc<ServerShared>, cluster: Arc<Cluster>, url: RouteUrl, explicit: bool) {
    let mut delay = FIRST_RETRY;
    let mut attempts: u32 = 0;
    let addr = url.addr();
    loop {
        if cluster.stopping.load(Ordering::Acquire) {
            return;
        }
        if explicit && !cluster.is_explicit(&url) {
            debug!("Route {} was removed from the configuration", addr);
            return;
        }
        debug!("Trying to connect to route on {}", addr);
        match TcpStream::connect(&addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let peer = stream
                    .peer_addr()
                    .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
                let outcome =
                    run_route(shared.clone(), cluster.clone(), stream, peer, Some(&url)).await;
                match outcome {
                    Outcome::ToSelf => return,
                    // A route that was up and dropped is tried again, an
                    // implicit one as often as a new one (`connect_retries`).
                    Outcome::Registered => {
                        delay = FIRST_RETRY;
                        attempts = 0;
                    }
                    Outcome::Duplicate(remote) => {
                        if !explicit {
                            return;
                        }
                        // Wait while the other route to that server lives.
                        while cluster.is_connected(&remote)
                            && !cluster.stopping.load(Ordering::Acquire)
                        {
                            sleep(Duration::from_millis(250)).await;
                        }
                        delay = FIRST_RETRY;
                        continue;
                    }
                    Outcome::Failed => attempts += 1,
                }
            }
            Err(e) => {
                debug!("Error trying to connect to route ({}): {}", addr, e);
                attempts += 1;
            }
        }
        // As nats-server: `connect_retries` bounds routes learned from
        // gossip only; configured ones are tried for as long as it runs.
        if !explicit && attempts > cluster.opts().connect_retries {
            debug!("Giving up on implicit route to {}", addr);
            return;
        }
        sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY);
    }
}

/// How a route connection ended.
enum Outcome {
    /// It was registered (and has now closed).
    Registered,
    /// The peer is already connected by another route (its id).
    Duplicate(String),
    /// It led back to this server.
    ToSelf,
    Failed,
}

/// Serves one route connection, accepted (`solicited` is `None`) or
/// solicited, until it ends: over TLS when the cluster has it (the
/// handshake first), else over the plain socket.
async fn run_route(
    shared: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    mut stream: TcpStream,
    peer: SocketAddr,
    solicited: Option<&RouteUrl>,
) -> Outcome {
    let id = cluster.next_id.fetch_add(1, Ordering::Relaxed);
    let client = Arc::new(Client::new(id, peer, shared.opts.max_pending, None).into_route());
    match cluster.tls() {
        None => {
            let (reader, writer) = stream.split();
            serve_route(&shared, &cluster, &client, solicited, reader, writer).await
        }
        // Boxed: the TLS state is large, and plain routes need not carry it.
        Some(tls) => {
            Box::pin(async {
                let Some(stream) =
                    route_handshake(&tls, &cluster, &client, stream, solicited).await
                else {
                    return Outcome::Failed;
                };
                let (reader, writer) = tokio::io::split(stream);
                serve_route(&shared, &cluster, &client, solicited, reader, writer).await
            })
            .await
        }
    }
}

/// The TLS handshake of a route, right after the TCP connection: as the
/// TLS server on an accepted route, as the TLS client (checking the
/// peer's certificate against the route URL's host) on a solicited one.
/// None when it failed or timed out; that is logged here.
///
/// Routes learned from gossip come as IP addresses, while certificates
/// often name hosts only: as nats-server does, a route to an IP address
/// is checked against the first host name among the configured routes,
/// until a handshake with that name fails.
async fn route_handshake(
    tls: &RouteTls,
    cluster: &Cluster,
    client: &Client,
    stream: TcpStream,
    solicited: Option<&RouteUrl>,
) -> Option<tokio_rustls::TlsStream<TcpStream>> {
    let tag = &client.tag;
    let saved_name = solicited
        .filter(|url| url.host.parse::<std::net::IpAddr>().is_ok())
        .and_then(|_| lock(&cluster.tls_name).clone());
    let saved_name_used = saved_name.is_some();
    let handshake = async {
        match solicited {
            Some(url) => {
                debug!("{tag} - Starting TLS route client handshake");
                let host = saved_name.unwrap_or_else(|| url.host.clone());
                let name = ServerName::try_from(host.clone()).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("invalid server name {host:?}: {e}"),
                    )
                })?;
                let stream = tls.connector.connect(name, stream).await?;
                Ok(tokio_rustls::TlsStream::Client(stream))
            }
            None => {
                debug!("{tag} - Starting TLS route server handshake");
                let mut first = [0u8; 1];
                if stream.peek(&mut first).await? == 1 && first[0] != client::TLS_HANDSHAKE_RECORD {
                    // A plain-text route (or anything else): closed without
                    // a word, as nats-server does. What it sent is read
                    // first, so that the close is not a reset.
                    let mut discard = [0u8; 4096];
                    while matches!(stream.try_read(&mut discard), Ok(n) if n > 0) {}
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "tls: first record does not look like a TLS handshake",
                    ));
                }
                let stream = tls.acceptor.accept(stream).await?;
                Ok(tokio_rustls::TlsStream::Server(stream))
            }
        }
    };
    let failed = |why: &dyn std::fmt::Display| {
        error!("{tag} - TLS route handshake error: {why}");
        if saved_name_used {
            // Next time, the address itself.
            *lock(&cluster.tls_name) = None;
        }
        info!("{tag} - Router connection closed: TLS Handshake Failure");
        None
    };
    let stream = match timeout(tls.opts.timeout(), handshake).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return failed(&e),
        Err(_) => return failed(&format_args!("timeout after {:?}", tls.opts.timeout())),
    };
    let session = stream.get_ref().1;
    if !crate::tls::pinned_cert_ok(&tls.opts, session.peer_certificates()) {
        return failed(&"certificate not pinned");
    }
    debug!("{tag} - TLS handshake complete");
    if let Some(negotiated) = crate::tls::describe_session(session) {
        debug!("{tag} - {negotiated}");
    }
    Some(stream)
}

/// The route protocol over an established connection (after the TLS
/// handshake, if any): CONNECT (when solicited) and INFO out, then the
/// reader and the writer until the connection ends.
async fn serve_route<R, W>(
    shared: &Arc<ServerShared>,
    cluster: &Arc<Cluster>,
    client: &Arc<Client>,
    solicited: Option<&RouteUrl>,
    reader: R,
    writer: W,
) -> Outcome
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut hello = Vec::new();
    if let Some(url) = solicited {
        let (user, pass) = match &url.user {
            Some(_) => (url.user.clone(), url.pass.clone()),
            None => {
                let opts = cluster.opts();
                (opts.username.clone(), opts.password.clone())
            }
        };
        let connect = RouteConnect {
            echo: true,
            verbose: false,
            pedantic: false,
            user,
            pass,
            tls_required: cluster.tls().is_some(),
            headers: true,
            name: cluster.server_id.clone(),
            cluster: cluster.name(),
            lnoc: true,
            lang: None,
        };
        hello.extend(connect.to_protocol_line());
        debug!("{} - Route connect msg sent", client.tag);
    }
    hello.extend(cluster.route_info(shared).to_protocol_line());
    client.send_now(&hello);
    info!("{} - Route connection created", client.tag);
    let mut session = RouteSession {
        shared: shared.clone(),
        cluster: cluster.clone(),
        client: client.clone(),
        solicited: solicited.is_some(),
        url: solicited.cloned(),
        login: None,
        connected: solicited.is_some(),
        peer_permissions: (None, None),
        rules: cluster.rules(),
        rules_generation: cluster.rules_generation.load(Ordering::Acquire),
        remote_id: None,
        registered: false,
        duplicate: None,
        to_self: false,
        subs: HashMap::new(),
        last_account: None,
        out: Deliveries::new(client.id),
        ops: Vec::new(),
    };
    let ((), ()) = tokio::join!(
        session.run(reader),
        client::write_loop(shared, client, writer)
    );
    if session.to_self {
        Outcome::ToSelf
    } else if let Some(remote) = session.duplicate.take() {
        Outcome::Duplicate(remote)
    } else if session.registered {
        Outcome::Registered
    } else {
        Outcome::Failed
    }
}

/// The reading side of a route.
struct RouteSession {
    shared: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    client: Arc<Client>,
    solicited: bool,
    /// The configured URL this server dialled, if it did.
    url: Option<RouteUrl>,
    /// What an accepted route logged in with.
    login: Option<(Option<String>, Option<String>)>,
    /// CONNECT was accepted (always true for a route this server solicited).
    connected: bool,
    /// The peer's route permissions, from its INFO (when they change, it
    /// is sent all the local interest again).
    peer_permissions: (Option<SubjectPermission>, Option<SubjectPermission>),
    /// The route permissions, as of `rules_generation`.
    rules: Arc<RouteRules>,
    rules_generation: u64,
    remote_id: Option<String>,
    registered: bool,
    duplicate: Option<String>,
    to_self: bool,
    /// The peer's interest: "account subject [queue]" -> subscription.
    subs: HashMap<Bytes, Arc<Subscription>>,
    /// The account of the last message or interest (most routes carry one).
    last_account: Option<(Bytes, Arc<Account>)>,
    out: Deliveries,
    ops: Vec<(RouteOp, Span)>,
}

impl RouteSession {
    async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R) {
        let mut buf = BytesMut::with_capacity(MIN_READ);
        let mut read_size = MIN_READ;
        let timeout = self
            .cluster
            .opts()
            .auth_timeout
            .unwrap_or(DEFAULT_ROUTE_AUTH_TIMEOUT);
        let auth_deadline = Instant::now() + timeout;
        let max_control_line = MAX_ROUTE_CONTROL_LINE;
        // Routed messages may be as large as any server of the cluster allows.
        let max_payload = self.shared.opts.max_payload.max(64 * 1024 * 1024);
        let cluster = self.cluster.clone();
        loop {
            // Registered before the rules are looked at, so that a change
            // made in between still wakes this route.
            let rules_changed = cluster.rules_changed.notified();
            tokio::pin!(rules_changed);
            rules_changed.as_mut().enable();
            self.refresh_rules();
            buf.reserve(read_size);
            let n = tokio::select! {
                r = reader.read_buf(&mut buf) => r,
                _ = closed(&self.client) => break,
                _ = &mut rules_changed => continue,
                _ = sleep_until(auth_deadline), if !self.connected => {
                    // nats-server says so at debug level; the close is logged.
                    debug!("{} - Authentication Timeout", self.client.tag);
                    self.client.err_and_close(errors::AUTHENTICATION_TIMEOUT, CloseReason::AuthenticationTimeout);
                    break;
                }
            };
            match n {
                Ok(0) => {
                    self.client.close(CloseReason::ClientClosed, true);
                    break;
                }
                Ok(n) => {
                    if n >= read_size {
                        read_size = (read_size * 2).min(MAX_READ);
                    }
                }
                Err(e) => {
                    debug!("{} - Read error: {}", self.client.tag, e);
                    self.client.close(CloseReason::ReadError, false);
                    break;
                }
            }
            let mut pos = 0;
            let mut failure = None;
            loop {
                match proto::parse(&buf, pos, max_control_line, max_payload) {
                    Ok(RouteParsed::Op {
                        op,
                        control_line,
                        frame_len,
                    }) => {
                        self.ops.push((op, control_line));
                        pos += frame_len;
                    }
                    Ok(RouteParsed::Incomplete { .. }) => break,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let chunk = buf.split_to(pos).freeze();
            let outcome = self.process_all(&chunk).await;
            self.out.flush();
            self.out.wait_for_slow_consumers().await;
            if let Err(reason) = outcome {
                self.client.close(reason, true);
                break;
            }
            if let Some(e) = failure {
                error!("{} - Router parser ERROR: {}", self.client.tag, e);
                if e == RouteError::UnknownOperation {
                    self.client
                        .err_and_close(errors::UNKNOWN_PROTOCOL_OPERATION, CloseReason::ParseError);
                } else {
                    self.client.close(CloseReason::ProtocolViolation, true);
                }
                break;
            }
        }
        self.cleanup();
    }

    async fn process_all(&mut self, chunk: &Bytes) -> Result<(), CloseReason> {
        let ops = std::mem::take(&mut self.ops);
        let mut result = Ok(());
        for (op, line) in &ops {
            if enabled!(Level::TRACE) {
                self.trace_op(op, *line, chunk);
            }
            result = match op {
                RouteOp::Connect { json } => self.connect(json.of(chunk)).await,
                _ => self.process(op, chunk),
            };
            if result.is_err() {
                break;
            }
        }
        self.ops = ops;
        self.ops.clear();
        result
    }

    fn trace_op(&self, op: &RouteOp, line: Span, chunk: &Bytes) {
        let tag = &self.client.tag;
        match op {
            RouteOp::Connect { json } => trace!(
                "{} - <<- [CONNECT {}]",
                tag,
                rnats_proto::messages::redact_connect(json.of(chunk))
            ),
            RouteOp::Info { .. } => {}
            RouteOp::Msg { message, .. } => {
                crate::log::trace_received(tag, line.of(chunk), Some(message.of(chunk)))
            }
            _ => crate::log::trace_received(tag, line.of(chunk), None),
        }
    }

    fn process(&mut self, op: &RouteOp, chunk: &Bytes) -> Result<(), CloseReason> {
        if !self.connected && self.cluster.opts().username.is_some() {
            return Err(self.auth_violation());
        }
        match op {
            // Carried out by `process_all` (it may wait for bcrypt).
            RouteOp::Connect { .. } => Ok(()),
            RouteOp::Info { json } => self.info(json.of(chunk)),
            RouteOp::Ping => {
                trace!("{} - ->> [PONG]", self.client.tag);
                if self
                    .client
                    .enqueue(|b| b.put(rnats_proto::encode::PONG))
                    .wake
                {
                    self.out.touched(&self.client);
                }
                Ok(())
            }
            RouteOp::Pong => {
                self.client.pong_received();
                Ok(())
            }
            RouteOp::Ok | RouteOp::Ignored => Ok(()),
            RouteOp::Err { text } => {
                error!(
                    "{} - Router Error {}",
                    self.client.tag,
                    String::from_utf8_lossy(text.of(chunk))
                );
                Err(CloseReason::ParseError)
            }
            RouteOp::Sub {
                account,
                subject,
                queue,
            } => {
                self.remote_sub(
                    account.of(chunk),
                    subject.of(chunk),
                    queue.map(|(q, _)| q.of(chunk)),
                );
                Ok(())
            }
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => {
                self.remote_unsub(
                    account.of(chunk),
                    subject.of(chunk),
                    queue.map(|q| q.of(chunk)),
                );
                Ok(())
            }
            RouteOp::Msg {
                account,
                subject,
                reply,
                queues,
                header_size,
                header_len,
                total_size,
                message,
            } => {
                let Some(acc) = self.account(account.of(chunk)) else {
                    return Ok(());
                };
                if !self.rules.imports_message(subject.of(chunk)) {
                    return Ok(());
                }
                let sizes = match header_size {
                    Some(h) if *header_len > 0 => Sizes::HMsg(h.of(chunk), total_size.of(chunk)),
                    _ => Sizes::Msg(total_size.of(chunk)),
                };
                let msg = Message {
                    chunk,
                    subject: subject.of(chunk),
                    reply: reply.map(|r| r.of(chunk)),
                    sizes,
                    body: *message,
                };
                let queues = queues.map(|q| q.of(chunk));
                let matches = acc.sublist.matches(msg.subject);
                self.out.deliver_routed(&matches, &msg, queues);
                if let Some(routes) = acc.routes() {
                    self.deliver_to_importers(routes, &msg, queues);
                }
                if msg.subject.starts_with(RESPONSE_PREFIX) {
                    self.route_response(&acc, &msg);
                }
                Ok(())
            }
        }
    }

    /// A routed message in an account that exports it as a stream: the
    /// importing accounts' local subscribers get it under their subject
    /// (the peer sent it here for their interest, announced in this account).
    fn deliver_to_importers(&mut self, routes: &Routes, msg: &Message<'_>, queues: Option<&[u8]>) {
        for (importer, mapped) in routes.stream_importers(msg.subject) {
            let imported = Message {
                subject: &mapped,
                ..*msg
            };
            let matches = importer.sublist.matches(&mapped);
            self.out.deliver_routed(&matches, &imported, queues);
        }
    }

    /// After a reload changed the route permissions: the peer's interest is
    /// taken again under the new `export` rule (what it no longer allows
    /// is dropped; wildcards get the new deny filter).
    fn refresh_rules(&mut self) {
        let generation = self.cluster.rules_generation.load(Ordering::Acquire);
        if generation == self.rules_generation {
            return;
        }
        self.rules_generation = generation;
        self.rules = self.cluster.rules();
        let export = self.rules.export.clone();
        for (key, old) in std::mem::take(&mut self.subs) {
            old.account.sublist.remove(&old);
            if !self.rules.exports(&old.subject) {
                debug!(
                    "{} - Can not export {:?} any more, removing remote subscription",
                    self.client.tag,
                    String::from_utf8_lossy(&old.subject)
                );
                continue;
            }
            let mut sub = Subscription::new(
                self.client.clone(),
                old.account.clone(),
                old.subject.clone(),
                old.queue.clone(),
                key.clone(),
            );
            sub.deny = export
                .as_ref()
                .filter(|rule| rule.deny_overlaps(&old.subject))
                .cloned();
            let sub = Arc::new(sub);
            if old.account.sublist.insert(sub.clone()).is_ok() {
                self.subs.insert(key, sub);
            }
        }
    }

    /// An answer to a request that crossed accounts here: it goes to the
    /// requester (a client of this server) on its own reply subject.
    fn route_response(&mut self, account: &Account, msg: &Message<'_>) {
        let Some((requester, reply)) = account.take_response(msg.subject) else {
            return;
        };
        let answer = Message {
            subject: &reply,
            reply: None,
            ..*msg
        };
        let matches = requester.sublist.matches(&reply);
        self.out.deliver_routed(&matches, &answer, None);
    }

    /// The account a peer names: configured, or a JWT account known or
    /// found by the resolver (a peer may announce interest in an account
    /// before any of its users has logged in here).
    fn account(&mut self, name: &[u8]) -> Option<Arc<Account>> {
        if let Some((last, account)) = &self.last_account
            && last[..] == *name
        {
            return Some(account.clone());
        }
        let text = std::str::from_utf8(name).ok()?;
        let account = match self.shared.accounts.get(text) {
            Some(account) => account.clone(),
            None => {
                let found = self.shared.auth.trust().and_then(|t| t.lookup(text));
                let Some(jwt_account) = found else {
                    debug!("{} - Unknown account {:?}", self.client.tag, text);
                    return None;
                };
                jwt_account.account.clone()
            }
        };
        self.last_account = Some((Bytes::copy_from_slice(name), account.clone()));
        Some(account)
    }

    fn auth_violation(&self) -> CloseReason {
        error!("{} - authentication error", self.client.tag);
        self.client.err_and_close(
            errors::AUTHORIZATION_VIOLATION,
            CloseReason::AuthenticationViolation,
        );
        CloseReason::AuthenticationViolation
    }

    async fn connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        if self.solicited {
            return Ok(());
        }
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            debug!("{} - Invalid route CONNECT", self.client.tag);
            return Err(CloseReason::ParseError);
        };
        let opts = self.cluster.opts();
        let login_ok = if opts.password.as_deref().is_some_and(crate::auth::is_bcrypt) {
            // On the blocking pool, like client logins: not on a thread
            // that moves messages.
            let (user, pass) = (connect.user.clone(), connect.pass.clone());
            tokio::task::spawn_blocking(move || {
                route_login_ok(&opts, user.as_deref(), pass.as_deref())
            })
            .await
            .unwrap_or(false)
        } else {
            route_login_ok(&opts, connect.user.as_deref(), connect.pass.as_deref())
        };
        if !login_ok {
            return Err(self.auth_violation());
        }
        if connect.lang.is_some() {
            error!("{} - {}", self.client.tag, ROUTE_PORT_ERROR);
            self.client
                .err_and_close(ROUTE_PORT_ERROR, CloseReason::WrongPort);
            return Err(CloseReason::WrongPort);
        }
        self.check_cluster_name(&connect.cluster)?;
        self.connected = true;
        self.login = Some((connect.user, connect.pass));
        if !connect.name.is_empty() {
            self.remote_id = Some(connect.name);
        }
        Ok(())
    }

    /// A configured name must match the peer's; a made-up one gives way.
    fn check_cluster_name(&self, theirs: &str) -> Result<(), CloseReason> {
        let ours = self.cluster.name();
        if theirs == ours {
            return Ok(());
        }
        let configured = self.cluster.opts().name.is_some();
        if !configured && !theirs.is_empty() {
            // Adopt the peer's name; the smaller one wins if both are made up.
            if self.cluster.route_count() == 0 || theirs < ours.as_str() {
                *lock(&self.cluster.name) = theirs.to_string();
            }
            return Ok(());
        }
        if theirs.is_empty() && !configured {
            return Ok(());
        }
        let text = format!("Rejecting connection, cluster name {theirs:?} does not match {ours:?}");
        error!("{} - {}", self.client.tag, text);
        self.client
            .err_and_close(&text, CloseReason::ClusterNameConflict);
        Err(CloseReason::ClusterNameConflict)
    }

    fn info(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            debug!("{} - Invalid route INFO", self.client.tag);
            return Err(CloseReason::ParseError);
        };
        if self.registered {
            let remote = self.remote_id.clone().unwrap_or_default();
            if info.server_id == remote || info.server_id.is_empty() {
                // An update from the peer (a reload there): its client
                // URLs, and perhaps new route permissions, under which it
                // may now take interest it refused before.
                if let Some(urls) = info.connect_urls {
                    if let Some(entry) = lock(&self.cluster.routes).get_mut(&remote) {
                        entry.connect_urls = urls;
                    }
                    self.shared.cluster_changed();
                }
                let perms = (info.import, info.export);
                if perms != self.peer_permissions {
                    self.peer_permissions = perms;
                    self.cluster.resend_interest(&self.client);
                }
            } else if let Some(ip) = &info.ip {
                self.implicit_route(&info.server_id, ip);
            }
            return Ok(());
        }
        if info.server_id == self.cluster.server_id {
            debug!("{} - Detected route to self, ignoring", self.client.tag);
            self.to_self = true;
            return Err(CloseReason::ClientClosed);
        }
        if self.solicited {
            self.check_cluster_name(&info.cluster)?;
        }
        let remote = info.server_id.clone();
        self.remote_id = Some(remote.clone());
        self.peer_permissions = (info.import.clone(), info.export.clone());
        let urls = info.connect_urls.clone().unwrap_or_default();
        if !self.cluster.register(
            &remote,
            &self.client,
            self.url.clone(),
            self.login.clone(),
            urls,
        ) {
            debug!(
                "{} - Detected duplicate remote route {:?}",
                self.client.tag, remote
            );
            self.duplicate = Some(remote);
            return Err(CloseReason::DuplicateRoute);
        }
        self.registered = true;
        self.client.connected();
        // Tell the other peers about this one (whichever side dialled), so
        // they connect to it too: the full mesh. Its route URL is the one it
        // advertises, else its host (or the address it was reached at) and
        // route port.
        let mut gossip = info;
        if gossip.ip.is_none() {
            let host = match gossip.host.parse::<std::net::IpAddr>() {
                Ok(ip) if !ip.is_unspecified() => gossip.host.clone(),
                Err(_) if !gossip.host.is_empty() => gossip.host.clone(),
                _ => self.client.addr.ip().to_string(),
            };
            let hostport = if host.contains(':') {
                format!("[{host}]:{}", gossip.port)
            } else {
                format!("{host}:{}", gossip.port)
            };
            gossip.ip = Some(format!("nats-route://{hostport}/"));
        }
        gossip.nonce = None;
        self.cluster
            .send_to_all(&gossip.to_protocol_line(), Some(self.client.id));
        self.shared.cluster_changed();
        Ok(())
    }

    /// A peer told of a server this one is not connected to yet.
    fn implicit_route(&self, server_id: &str, ip: &str) {
        if server_id == self.cluster.server_id || self.cluster.is_connected(server_id) {
            return;
        }
        let Some(mut url) = RouteUrl::parse(ip) else {
            return;
        };
        {
            let mut trying = lock(&self.cluster.trying);
            if trying.contains(&url.addr()) {
                return;
            }
            trying.push(url.addr());
        }
        let opts = self.cluster.opts();
        url.user = opts.username.clone();
        url.pass = opts.password.clone();
        debug!("Connecting to implicit route {}", ip);
        let (shared, cluster) = (self.shared.clone(), self.cluster.clone());
        self.cluster.spawn(async move {
            let addr = url.addr();
            solicit(shared, cluster.clone(), url, false).await;
            lock(&cluster.trying).retain(|a| *a != addr);
        });
    }

    fn remote_sub(&mut self, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
        let Some(acc) = self.account(account) else {
            return;
        };
        let export = self.rules.export.as_ref();
        if export.is_some_and(|rule| !rule.allows_subscription(subject)) {
            debug!(
                "{} - Can not export {:?}, ignoring remote subscription request",
                self.client.tag,
                String::from_utf8_lossy(subject)
            );
            return;
        }
        let key = sub_key(account, subject, queue);
        if self.subs.contains_key(&key) {
            // A new queue weight: the peer stays one member of the group.
            return;
        }
        let mut sub = Subscription::new(
            self.client.clone(),
            acc.clone(),
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
            key.clone(),
        );
        // A wildcard that also covers denied subjects: filtered per message.
        sub.deny = export.filter(|rule| rule.deny_overlaps(subject)).cloned();
        let sub = Arc::new(sub);
        if acc.sublist.insert(sub.clone()).is_ok() {
            self.subs.insert(key, sub);
        } else {
            // As nats-server: the peer is told, the route stays.
            error!(
                "{} - Could not insert subscription: invalid subject {:?}",
                self.client.tag,
                String::from_utf8_lossy(subject)
            );
            let mut line = BytesMut::new();
            rnats_proto::encode::err(&mut line, errors::INVALID_SUBSCRIPTION);
            self.client.send_now(&line);
        }
    }

    fn remote_unsub(&mut self, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
        let key = sub_key(account, subject, queue);
        if let Some(sub) = self.subs.remove(&key) {
            sub.account.sublist.remove(&sub);
        }
    }

    fn cleanup(&mut self) {
        let mut by_account: HashMap<String, Vec<Arc<Subscription>>> = HashMap::new();
        for (_, sub) in self.subs.drain() {
            by_account
                .entry(sub.account.name.clone())
                .or_default()
                .push(sub);
        }
        for mut subs in by_account.into_values() {
            debug!(
                "{} - Removing {} subscriptions for account {:?}",
                self.client.tag,
                subs.len(),
                subs[0].account.name
            );
            let account = subs[0].account.clone();
            account.sublist.remove_all(&mut subs);
        }
        if let Some(remote) = &self.remote_id
            && self.registered
            && self.cluster.unregister(remote, &self.client)
        {
            self.shared.cluster_changed();
        }
        info!(
            "{} - Router connection closed: {}",
            self.client.tag,
            self.client.close_reason().as_str()
        );
    }
}

/// Whether a peer's CONNECT credentials satisfy `authorization` (bcrypt
/// hashes are checked too; a plain password in constant time).
fn route_login_ok(opts: &ClusterOptions, user: Option<&str>, pass: Option<&str>) -> bool {
    let Some(expected_user) = &opts.username else {
        return true;
    };
    let password = opts.password.as_deref().unwrap_or("");
    let presented = pass.unwrap_or("");
    let pass_ok = match Secret::new(password) {
        Secret::Plain(_) => {
            use subtle::ConstantTimeEq;
            !crate::auth::is_bcrypt(presented)
                && bool::from(password.as_bytes().ct_eq(presented.as_bytes()))
        }
        Secret::Bcrypt(hash) => bcrypt::verify(presented, &hash).unwrap_or(false),
    };
    user == Some(expected_user.as_str()) && pass_ok
}

/// What a client that connects to the route port is told.
const ROUTE_PORT_ERROR: &str = "attempted to connect to route port";

fn subject_permission(rule: &SubjectRuleConfig) -> SubjectPermission {
    SubjectPermission {
        allow: rule.allow.clone().unwrap_or_default(),
        deny: rule.deny.clone(),
    }
}

fn sub_key(account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Bytes {
    let mut key =
        Vec::with_capacity(account.len() + subject.len() + 2 + queue.map_or(0, |q| q.len()));
    key.extend_from_slice(account);
    key.push(b' ');
    key.extend_from_slice(subject);
    if let Some(q) = queue {
        key.push(b' ');
        key.extend_from_slice(q);
    }
    Bytes::from(key)
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
}

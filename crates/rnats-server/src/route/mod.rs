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
//! reference-counted here (`Cluster::local_sub`) so a route hears `RS+`
//! for the first plain subscription on a subject and `RS-` for the last;
//! queue subscriptions announce their new weight each time.
//! A subscription also stands for subjects in the accounts its account
//! imports streams from; a reload that changes those imports recounts it
//! (`Cluster::rewire`).
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
//!
//! This module keeps the cluster's shared state ([`Cluster`]: routes,
//! local interest, settings, reload); `url` parses route URLs, `rules`
//! holds route permissions and the route login check, `connection` dials
//! and sets up route connections, and `session` reads a route.

mod connection;
mod rules;
mod session;
mod url;

pub use url::RouteUrl;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rnats_proto::errors;
use rnats_proto::route::{self as proto, RouteInfo};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::sleep;
use tracing::{Level, debug, enabled, error, info, trace, warn};

use crate::accounts::subscription::Subscription;
use crate::accounts::{Account, ImportedStream, Routes};
use crate::connection::{Client, CloseReason};
use crate::options::ClusterOptions;
use crate::server::{COMPATIBLE_VERSION, ServerShared, VERSION};
use crate::sync::{lock, read_lock, write_lock};
use crate::tls::{RouteTls, TlsConfigError};

use connection::{run_route, solicit};
use rules::{RouteLogin, RouteRules, subject_permission};
use url::{first_host_name, route_urls};

/// Local interest announced to routes: (account, subject, queue) -> count.
type InterestKey = (Arc<str>, Bytes, Option<Bytes>);

/// What `sub` stands for in the accounts it imports `imports` from: the
/// subject there, for each import it meets.
fn imported_interest(
    sub: &Subscription,
    imports: &[ImportedStream],
    mut each: impl FnMut(InterestKey),
) {
    for import in imports {
        let (Some(from), Some(subject)) = (
            import.from.upgrade(),
            import.interest_in_exporter(&sub.subject),
        ) else {
            continue;
        };
        each((from.name.as_str().into(), subject.into(), sub.queue.clone()));
    }
}

/// Moves the count of local interest in `key` by `change` and writes what
/// the routes must hear of it (when `import` lets them): `RS+` when a
/// plain subject's count leaves 0, a queue group's new weight whenever it
/// moves, `RS-` when a count reaches 0. A count never goes below 0.
fn recount(
    interest: &mut HashMap<InterestKey, u32>,
    rules: &RouteRules,
    lines: &mut BytesMut,
    key: InterestKey,
    change: i64,
) {
    let was = interest.get(&key).copied().unwrap_or(0);
    let now = u32::try_from((i64::from(was) + change).max(0)).unwrap_or(u32::MAX);
    if now == was {
        return;
    }
    let (account, subject, queue) = &key;
    if rules.imports(subject) {
        match queue.as_deref() {
            _ if now == 0 => proto::rs_minus(lines, account.as_bytes(), subject, queue.as_deref()),
            Some(queue) => proto::rs_plus(lines, account.as_bytes(), subject, Some((queue, now))),
            None if was == 0 => proto::rs_plus(lines, account.as_bytes(), subject, None),
            None => {}
        }
    }
    if now == 0 {
        interest.remove(&key);
    } else {
        interest.insert(key, now);
    }
}

/// The stream imports of an account's routes (none without routes).
fn stream_imports(routes: &Option<Arc<Routes>>) -> &[ImportedStream] {
    routes.as_deref().map_or(&[], |r| &r.imported)
}

/// Holds off a rewiring of stream imports while a subscription enters or
/// leaves (see [`Cluster::hold_interest`]); nothing when not clustered.
pub(crate) fn hold_interest(cluster: &Option<Arc<Cluster>>) -> Option<RwLockReadGuard<'_, ()>> {
    cluster.as_deref().map(Cluster::hold_interest)
}

/// A registered route.
struct RouteEntry {
    client: Arc<Client>,
    /// Whether this server solicited it.
    solicited: bool,
    /// The URL this server dialled it at, if it did (a reload may remove
    /// a configured one).
    url: Option<RouteUrl>,
    /// What an accepted route logged in with (a reload may change what is
    /// required).
    login: Option<RouteLogin>,
    /// The client URLs the peer announced.
    connect_urls: Vec<String>,
}

/// A route as monitoring shows it.
pub struct RouteView {
    pub remote_id: String,
    pub client: Arc<Client>,
    /// This server dialled it.
    pub solicited: bool,
    /// It is one of the configured `routes`.
    pub configured: bool,
}

/// A server's side of its cluster.
pub struct Cluster {
    /// The settings in force: a reload may replace them (see
    /// [`Cluster::apply_reload`]), but not the name, host or port.
    opts: RwLock<Arc<ClusterOptions>>,
    server_id: String,
    /// The cluster's name: configured, made up, or adopted from a peer.
    name: Mutex<String>,
    /// Whether `name` is made up (or adopted from a peer's made-up one):
    /// a peer with a configured name, or a greater made-up one, prevails.
    name_dynamic: AtomicBool,
    /// Where routes are accepted (known once bound).
    listen: Mutex<Option<SocketAddr>>,
    /// This server's client URLs, for `connect_urls`.
    client_urls: Mutex<Vec<String>>,
    /// The `connect_urls` clients were last told.
    advertised: Mutex<Vec<String>>,
    /// Whether a peer has ever advertised client URLs (from then on,
    /// clients are always told at least this server's own).
    peers_advertised: AtomicBool,
    /// Registered routes by the peer's server id.
    routes: Mutex<HashMap<String, RouteEntry>>,
    /// Local interest, counted; the lock also orders what routes are told.
    interest: Mutex<HashMap<InterestKey, u32>>,
    /// Held (shared) while a subscription enters or leaves both its
    /// account's index and `interest`, and (exclusively) while stream
    /// imports are rewired: see [`Cluster::rewire`].
    rewiring: RwLock<()>,
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
            name_dynamic: AtomicBool::new(opts.name.is_none()),
            opts: RwLock::new(Arc::new(opts)),
            server_id,
            name: Mutex::new(name),
            listen: Mutex::new(None),
            client_urls: Mutex::new(Vec::new()),
            advertised: Mutex::new(Vec::new()),
            peers_advertised: AtomicBool::new(false),
            routes: Mutex::new(HashMap::new()),
            interest: Mutex::new(HashMap::new()),
            rewiring: RwLock::new(()),
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

    fn is_dynamic(&self) -> bool {
        self.name_dynamic.load(Ordering::Acquire)
    }

    /// Takes a peer's cluster name, as nats-server does when its own was
    /// made up: the routes formed under the old name are closed (they come
    /// back under the new one), all but `keep`.
    fn adopt_name(&self, theirs: &str, their_dynamic: bool, keep: u64) {
        *lock(&self.name) = theirs.to_string();
        if !their_dynamic {
            self.name_dynamic.store(false, Ordering::Release);
        }
        info!("Cluster name updated to {}", theirs);
        for entry in lock(&self.routes).values() {
            if entry.client.id != keep {
                entry.client.close(CloseReason::ClusterNameConflict, true);
            }
        }
    }

    /// The settings in force.
    pub fn opts(&self) -> Arc<ClusterOptions> {
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

    /// The address routes are accepted on (once `start` has bound it).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        *lock(&self.listen)
    }

    /// Server ids of the connected routes.
    pub fn route_ids(&self) -> Vec<String> {
        lock(&self.routes).keys().cloned().collect()
    }

    /// The registered routes, for monitoring (`/routez`).
    pub fn routes(&self) -> Vec<RouteView> {
        let routes = lock(&self.routes);
        let mut views: Vec<_> = routes
            .iter()
            .map(|(id, entry)| RouteView {
                remote_id: id.clone(),
                client: entry.client.clone(),
                solicited: entry.solicited,
                configured: entry.url.as_ref().is_some_and(|u| self.is_explicit(u)),
            })
            .collect();
        views.sort_by_key(|v| v.client.id);
        views
    }

    pub fn route_count(&self) -> usize {
        lock(&self.routes).len()
    }

    /// What clients are told in `connect_urls`, as nats-server tells them:
    /// this server's client URLs and those its peers advertise; nothing
    /// until a peer has advertised any, but this server's own after the
    /// last one has gone or stopped advertising (always nothing with
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
            if !self.peers_advertised.load(Ordering::Acquire) {
                return peers;
            }
        } else {
            self.peers_advertised.store(true, Ordering::Release);
        }
        let mut urls = lock(&self.client_urls).clone();
        urls.retain(|own| !peers.contains(own));
        urls.extend(peers);
        urls
    }

    /// Whether `connect_urls` changed since the last call that said so
    /// (clients are sent an INFO update then; never one with none).
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
        if sub.is_route() {
            return;
        }
        each((
            sub.account.name.as_str().into(),
            sub.subject.clone(),
            sub.queue.clone(),
        ));
        if let Some(routes) = sub.account.routes() {
            imported_interest(sub, &routes.imported, each);
        }
    }

    /// Keeps a rewiring of stream imports ([`Cluster::rewire`]) off while
    /// the caller puts a subscription in (or takes it out of) its
    /// account's index and then counts it here (`local_sub`,
    /// `local_unsubs`): so a rewiring finds every counted subscription in
    /// an index and no uncounted one there.
    pub(crate) fn hold_interest(&self) -> RwLockReadGuard<'_, ()> {
        read_lock(&self.rewiring)
    }

    /// Puts a new wiring of `accounts` in force with `apply`, and tells the
    /// routes what their local subscriptions stand for now: in an account
    /// whose stream imports changed, each subscription withdraws its
    /// interest in the old exporters and announces it in the new ones, as
    /// if it had been made again (nats-server redoes its shadow
    /// subscriptions on such a reload). Without this a peer would not send
    /// a newly imported stream to subscribers already here, and the counts
    /// would drift when they leave.
    pub(crate) fn rewire<R>(&self, accounts: &[Arc<Account>], apply: impl FnOnce() -> R) -> R {
        let _rewiring = write_lock(&self.rewiring);
        let before: Vec<_> = accounts.iter().map(|a| (a, a.routes())).collect();
        let result = apply();
        let mut delta: HashMap<InterestKey, i64> = HashMap::new();
        for (account, old) in before {
            let new = account.routes();
            let (old, new) = (stream_imports(&old), stream_imports(&new));
            if old == new {
                continue;
            }
            account.sublist.for_each(|sub| {
                // Routes' interest, and internal subscriptions the cluster
                // never hears of, were not counted.
                if sub.is_route() || sub.client.cluster.is_none() {
                    return;
                }
                imported_interest(sub, old, |key| *delta.entry(key).or_default() -= 1);
                imported_interest(sub, new, |key| *delta.entry(key).or_default() += 1);
            });
        }
        let mut interest = lock(&self.interest);
        let rules = self.rules();
        let mut lines = BytesMut::new();
        for (key, change) in delta {
            recount(&mut interest, &rules, &mut lines, key, change);
        }
        if !lines.is_empty() {
            self.send_to_all(&lines, None);
        }
        drop(interest);
        result
    }

    /// A local subscription was added: routes hear `RS+` for the first
    /// plain one on its subject, and every queue weight change.
    pub(crate) fn local_sub(&self, sub: &Subscription) {
        let mut interest = lock(&self.interest);
        let rules = self.rules();
        let mut lines = BytesMut::new();
        self.interest_of(sub, |key| {
            recount(&mut interest, &rules, &mut lines, key, 1)
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
                recount(&mut interest, &rules, &mut lines, key, -1)
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
            max_payload: shared.opts().max_payload,
            nonce: None,
            ip,
            cluster: self.name(),
            // As nats-server: a server that does not advertise itself to
            // clients does not ask its peers to either.
            connect_urls: (!opts.no_advertise).then(|| lock(&self.client_urls).clone()),
            dynamic: self.is_dynamic(),
            // Set only in the one INFO that announces it.
            lame_duck: false,
            lnoc: true,
            import: perms
                .and_then(|p| p.import.as_ref())
                .map(subject_permission),
            export: perms
                .and_then(|p| p.export.as_ref())
                .map(subject_permission),
        }
    }

    /// Lame duck mode: tells every route (`"ldm":true`, with this server's
    /// client URLs, which the peers then stop advertising), and from now
    /// on leaves those URLs out of what clients here are told.
    pub(crate) fn announce_lame_duck(&self, shared: &ServerShared) {
        let mut info = self.route_info(shared);
        info.lame_duck = true;
        let line = info.to_protocol_line();
        for entry in lock(&self.routes).values() {
            entry.client.send_now(&line);
        }
        lock(&self.client_urls).clear();
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
        login: Option<RouteLogin>,
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
        let maps = |o: &ClusterOptions| o.tls.as_ref().is_some_and(|t| t.verify_and_map);
        if (&old.username, &old.password, maps(&old)) != (&new.username, &new.password, maps(new)) {
            // Checked outside the routes lock: a bcrypt check takes a while.
            let accepted: Vec<_> = lock(&self.routes)
                .values()
                .filter_map(|e| Some((e.client.clone(), e.login.clone()?)))
                .collect();
            for (client, login) in accepted {
                if !login.passes(new) {
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

/// The client URLs of this server: `client_advertise` if set, its listen
/// host, or for a wildcard address the machine's outgoing address.
fn own_client_urls(shared: &ServerShared) -> Vec<String> {
    let port = shared.client_port();
    let host = shared.client_host();
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

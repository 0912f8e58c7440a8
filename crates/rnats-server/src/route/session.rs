//! The reading side of a route: the peer's CONNECT and INFO (login,
//! registration, gossip), its interest as subscriptions in the account
//! indexes, and routed messages delivered to local clients.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rnats_proto::parser::Span;
use rnats_proto::route::{
    RouteConnect, RouteError, RouteInfo, RouteOp, RouteParsed, SubjectPermission,
};
use rnats_proto::{errors, route as proto};
use tokio::io::AsyncRead;
use tokio::time::{Instant, sleep_until};
use tracing::{Level, debug, enabled, error, info, trace};

use crate::accounts::match_cache::MatchCache;
use crate::accounts::subscription::Subscription;
use crate::accounts::{Account, RESPONSE_PREFIX, Routes};
use crate::connection::delivery::{Deliveries, Message, Sizes, verbatim_tail};
use crate::connection::reader::{Outcome, Role, read_loop};
use crate::connection::{Client, CloseReason};
use crate::server::ServerShared;
use crate::sync::lock;

use super::connection::solicit;
use super::rules::{RouteLogin, RouteRules};
use super::{Cluster, RouteUrl};

/// How long a route has to send CONNECT, unless configured.
const DEFAULT_ROUTE_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server does not limit a route's control lines; this bound is far
/// above any real one (a long subject and its queue names) and limits what
/// a peer that has not logged in yet can make this server hold.
const MAX_ROUTE_CONTROL_LINE: usize = 1024 * 1024;
/// The most a read takes (see [`crate::connection::reader`]).
const MAX_READ: usize = 64 * 1024;

/// The reading side of a route.
pub(super) struct RouteSession {
    shared: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    client: Arc<Client>,
    solicited: bool,
    /// The configured URL this server dialled, if it did.
    url: Option<RouteUrl>,
    /// What an accepted route logged in with.
    login: Option<RouteLogin>,
    /// The names in the peer's TLS certificate (for `verify_and_map`).
    cert_identities: Vec<String>,
    /// CONNECT was accepted (always true for a route this server solicited).
    connected: bool,
    /// The peer's route permissions, from its INFO (when they change, it
    /// is sent all the local interest again).
    peer_permissions: (Option<SubjectPermission>, Option<SubjectPermission>),
    /// The route permissions, as of `rules_generation`.
    rules: Arc<RouteRules>,
    rules_generation: u64,
    remote_id: Option<String>,
    pub(super) registered: bool,
    pub(super) duplicate: Option<String>,
    pub(super) to_self: bool,
    /// The peer's interest: `account subject [queue]` -> subscription.
    subs: HashMap<Bytes, Arc<Subscription>>,
    /// The account of the last message or interest (most routes carry one).
    last_account: Option<(Bytes, Arc<Account>)>,
    /// What routed subjects match, for the account it was filled in
    /// (`cache_account`): cleared when a message is for another account.
    cache: MatchCache,
    cache_account: Option<Arc<Account>>,
    out: Deliveries,
    /// Messages the peer sent during the current read (see [`crate::stats`]).
    received: crate::stats::Counts,
    ops: Vec<(RouteOp, Span)>,
    /// When a peer that must log in and has not is closed.
    auth_deadline: Instant,
    max_payload: usize,
}

/// What a route waits for besides its bytes.
pub(super) enum RouteEvent {
    /// A reload changed the route permissions.
    RulesChanged,
    /// No CONNECT came in time.
    AuthTimeout,
}

impl Role for RouteSession {
    type Event = RouteEvent;

    async fn event(&mut self) -> RouteEvent {
        // Registered before the rules are looked at, so that a change made
        // in between still wakes this route.
        let rules_changed = self.cluster.rules_changed.notified();
        tokio::pin!(rules_changed);
        rules_changed.as_mut().enable();
        if self.cluster.rules_generation.load(Ordering::Acquire) != self.rules_generation {
            return RouteEvent::RulesChanged;
        }
        let waiting_for_login = !self.connected;
        tokio::select! {
            _ = &mut rules_changed => RouteEvent::RulesChanged,
            _ = sleep_until(self.auth_deadline), if waiting_for_login => RouteEvent::AuthTimeout,
        }
    }

    async fn on_event(&mut self, event: RouteEvent) -> Outcome {
        match event {
            RouteEvent::RulesChanged => {
                self.refresh_rules();
                Ok(())
            }
            RouteEvent::AuthTimeout => {
                // nats-server says so at debug level; the close is logged.
                debug!("{} - Authentication Timeout", self.client.tag);
                self.client.err_and_close(
                    errors::AUTHENTICATION_TIMEOUT,
                    CloseReason::AuthenticationTimeout,
                );
                Err(CloseReason::AuthenticationTimeout)
            }
        }
    }

    async fn on_bytes(&mut self, chunk: &Bytes, want: &mut usize) -> (usize, Outcome) {
        let mut pos = 0;
        let mut failure = None;
        // Before a peer has logged in it gets a client's limits: it cannot
        // make this server hold a 1 MiB line or a 64 MiB payload.
        let (max_control_line, max_payload) = if self.connected {
            (MAX_ROUTE_CONTROL_LINE, self.max_payload)
        } else {
            let opts = self.shared.opts();
            (opts.max_control_line, opts.max_payload)
        };
        loop {
            match proto::parse(chunk, pos, max_control_line, max_payload) {
                Ok(RouteParsed::Op {
                    op,
                    control_line,
                    frame_len,
                }) => {
                    self.ops.push((op, control_line));
                    pos += frame_len;
                }
                Ok(RouteParsed::Incomplete { frame_len }) => {
                    // A message's line before the login, where one is
                    // asked for: refused now, not after its payload.
                    if frame_len.is_some()
                        && !self.connected
                        && self.cluster.opts().username.is_some()
                    {
                        // What came before it (a CONNECT, say) counts.
                        if let Err(reason) = self.process_all(chunk).await {
                            return (pos, Err(reason));
                        }
                        if !self.connected {
                            return (pos, Err(self.auth_violation()));
                        }
                    }
                    *want = frame_len.unwrap_or(0);
                    break;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let processed = self.process_all(chunk).await;
        self.count_read();
        if let Err(reason) = processed {
            return (pos, Err(reason));
        }
        let Some(e) = failure else {
            return (pos, Ok(()));
        };
        error!("{} - Router parser ERROR: {}", self.client.tag, e);
        if e == RouteError::UnknownOperation {
            self.client
                .err_and_close(errors::UNKNOWN_PROTOCOL_OPERATION, CloseReason::ParseError);
            (pos, Err(CloseReason::ParseError))
        } else {
            (pos, Err(CloseReason::ProtocolViolation))
        }
    }

    fn deliveries(&mut self) -> &mut Deliveries {
        &mut self.out
    }

    fn cleanup(&mut self) {
        RouteSession::cleanup(self);
    }
}

impl RouteSession {
    /// The session of a route just connected (after its TLS handshake):
    /// `solicited` is the URL this server dialled, if it did;
    /// `cert_identities` the names in the peer's certificate, if any.
    pub(super) fn new(
        shared: &Arc<ServerShared>,
        cluster: &Arc<Cluster>,
        client: &Arc<Client>,
        solicited: Option<&RouteUrl>,
        cert_identities: Vec<String>,
    ) -> RouteSession {
        RouteSession {
            shared: shared.clone(),
            cluster: cluster.clone(),
            client: client.clone(),
            solicited: solicited.is_some(),
            url: solicited.cloned(),
            login: None,
            cert_identities,
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
            cache: MatchCache::new(),
            cache_account: None,
            out: Deliveries::new(client.id).without_waiting(),
            received: crate::stats::Counts::default(),
            ops: Vec::new(),
            auth_deadline: Instant::now()
                + cluster
                    .opts()
                    .auth_timeout
                    .unwrap_or(DEFAULT_ROUTE_AUTH_TIMEOUT),
            // Routed messages may be as large as any server of the cluster
            // allows.
            max_payload: shared.opts().max_payload.max(64 * 1024 * 1024),
        }
    }

    /// Reads and carries out what the peer sends until the route closes
    /// (see [`crate::connection::reader`]).
    pub(super) async fn run<R: AsyncRead + Unpin>(&mut self, reader: R) {
        let client = self.client.clone();
        read_loop(&client, self, reader, MAX_READ).await;
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
                    "{} - Route Error {}",
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
                    queue.map(|(q, weight)| (q.of(chunk), weight)),
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
                self.received.count(message.end - message.start);
                let Some(acc) = self.account(account.of(chunk)) else {
                    return Ok(());
                };
                if !self.rules.imports_message(subject.of(chunk)) {
                    return Ok(());
                }
                let (sizes, tail) = match header_size {
                    Some(h) if *header_len > 0 => (
                        Sizes::HMsg(h.of(chunk), total_size.of(chunk)),
                        verbatim_tail(chunk, *subject, *reply, &[*h, *total_size], *message),
                    ),
                    // An empty header block goes out as a plain MSG: the
                    // frame's sizes are not that line's.
                    Some(_) => (Sizes::Msg(total_size.of(chunk)), None),
                    None => (
                        Sizes::Msg(total_size.of(chunk)),
                        verbatim_tail(chunk, *subject, *reply, &[*total_size], *message),
                    ),
                };
                let msg = Message {
                    chunk,
                    subject: subject.of(chunk),
                    reply: reply.map(|r| r.of(chunk)),
                    sizes,
                    body: *message,
                    // Queue names sit between the subject and the reply.
                    tail: if queues.is_some() { None } else { tail },
                };
                let queues = queues.map(|q| q.of(chunk));
                if !self
                    .cache_account
                    .as_ref()
                    .is_some_and(|cached| Arc::ptr_eq(cached, &acc))
                {
                    self.cache.clear();
                    self.cache_account = Some(acc.clone());
                }
                let matches = self.cache.lookup(&acc, msg.subject);
                self.out.deliver_routed(matches, &msg, queues);
                if acc.routes_apply_to(msg.subject)
                    && let Some(routes) = acc.routes()
                {
                    self.deliver_to_importers(&routes, &msg, queues);
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
            sub.set_weight(old.weight());
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
            tail: None,
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
            && crate::accounts::match_cache::same_bytes(last, name)
        {
            return Some(account.clone());
        }
        let text = std::str::from_utf8(name).ok()?;
        let account = match self.shared.accounts.get(text) {
            Some(account) => account,
            None => {
                let found = self.shared.auth().trust().and_then(|t| t.lookup(text));
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
        let login = RouteLogin {
            user: connect.user.clone(),
            pass: connect.pass.clone(),
            cert_identities: std::mem::take(&mut self.cert_identities),
        };
        let login_ok = if opts.password.as_deref().is_some_and(crate::auth::is_bcrypt) {
            // On the blocking pool, like client logins: not on a thread
            // that moves messages, and within the same bound on bcrypt
            // checks at once.
            let login = login.clone();
            match crate::auth::bcrypt_turn().await {
                Some(_turn) => tokio::task::spawn_blocking(move || login.passes(&opts))
                    .await
                    .unwrap_or(false),
                None => false,
            }
        } else {
            login.passes(&opts)
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
        self.check_cluster_name(&connect.cluster, connect.dynamic)?;
        self.connected = true;
        self.login = Some(login);
        if !connect.name.is_empty() {
            self.remote_id = Some(connect.name);
        }
        Ok(())
    }

    /// A configured name must match the peer's; a made-up one gives way.
    /// The peer's cluster name must be ours, unless ours was made up and
    /// theirs prevails (configured, or made up and greater), as in
    /// nats-server: then this server takes it.
    fn check_cluster_name(&self, theirs: &str, their_dynamic: bool) -> Result<(), CloseReason> {
        let ours = self.cluster.name();
        if theirs == ours || theirs.is_empty() {
            return Ok(());
        }
        if self.cluster.is_dynamic() && (!their_dynamic || ours.as_str() < theirs) {
            self.cluster
                .adopt_name(theirs, their_dynamic, self.client.id);
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
                if info.lame_duck {
                    // Draining: clients are no longer sent its way (it
                    // still routes messages until it shuts down).
                    debug!(
                        "{} - Route {:?} entered lame duck mode",
                        self.client.tag, remote
                    );
                    if let Some(entry) = lock(&self.cluster.routes).get_mut(&remote) {
                        entry.connect_urls.clear();
                    }
                    self.shared.cluster_changed();
                    return Ok(());
                }
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
            self.check_cluster_name(&info.cluster, info.dynamic)?;
        } else if !info.server_name.is_empty() && info.server_name == self.shared.name {
            // As nats-server: server names must be unique in a cluster.
            error!(
                "{} - Remote server has a duplicate name: {:?}",
                self.client.tag, info.server_name
            );
            return Err(CloseReason::DuplicateServerName);
        }
        let remote = info.server_id.clone();
        self.remote_id = Some(remote.clone());
        self.client.set_details(crate::connection::Details {
            name: info.server_name.clone(),
            user: Some(remote.clone()),
            ..Default::default()
        });
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

    fn remote_sub(&mut self, account: &[u8], subject: &[u8], queue: Option<(&[u8], u32)>) {
        let weight = queue.map_or(1, |(_, w)| w);
        let queue = queue.map(|(q, _)| q);
        let Some(acc) = self.account(account) else {
            return;
        };
        let export = self.rules.export.as_ref();
        if export.is_some_and(|rule| !rule.allows_subscription(subject, None)) {
            debug!(
                "{} - Can not export {:?}, ignoring remote subscription request",
                self.client.tag,
                String::from_utf8_lossy(subject)
            );
            return;
        }
        let key = sub_key(account, subject, queue);
        if let Some(existing) = self.subs.get(&key) {
            // A queue group's new weight.
            existing.set_weight(weight);
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
        sub.set_weight(weight);
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

    /// Adds what this read received to the route's and the server's
    /// counters, once per read.
    fn count_read(&mut self) {
        let received = std::mem::take(&mut self.received);
        self.client.read_done(received);
        self.shared.stats.received.add(received);
    }

    fn cleanup(&mut self) {
        self.shared
            .stats
            .sent_to_closed_routes
            .add(self.client.sent());
        // A route's slow consumer episodes are counted by its writer (a
        // route is written on past a deadline while it takes bytes).
        if self.client.close_reason() == CloseReason::StaleConnection {
            self.shared.stats.stale_connections.inc(true);
        }
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
            for account in self.shared.accounts.all() {
                account.forget_server(remote);
            }
            self.shared.cluster_changed();
        }
        info!(
            "{} - Router connection closed: {}",
            self.client.tag,
            self.client.close_reason().as_str()
        );
    }
}

/// What a client that connects to the route port is told.
const ROUTE_PORT_ERROR: &str = "attempted to connect to route port";

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

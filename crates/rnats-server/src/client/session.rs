//! The reading side of a client connection: reads, parses and carries out
//! what the client sends — CONNECT, PUB/HPUB (routing each message to the
//! matching subscriptions), SUB/UNSUB, PING/PONG — with nats-server's
//! replies and errors.
//!
//! Reads are parsed a whole buffer at a time. The parsed region is then
//! frozen into one shared [`Bytes`], so payloads can be handed to
//! subscribers by reference, and every subscriber that received something is
//! woken once per read, not once per message.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use rnats_proto::messages::{ConnectInfo, redact_connect};
use rnats_proto::parser::{self, ClientOp, Limits, Parsed, ProtocolError, Span, parse};
use rnats_proto::{encode, errors, subject};
use tokio::io::AsyncRead;
use tokio::time::{Instant, sleep_until};
use tracing::{Level, debug, enabled, error, info, trace};

use crate::accounts::mapping::MappingCache;
use crate::accounts::match_cache::MatchCache;
use crate::accounts::subscription::Subscription;
use crate::accounts::{Account, RESPONSE_PREFIX};
use crate::auth::permissions::{Permissions, Rule};
use crate::auth::{AuthFailure, Identity};
use crate::connection::closed::{Closed, ClosedSub};
use crate::connection::delivery::{Deliveries, Message, Sizes, verbatim_tail};
use crate::connection::reader::{Outcome, Role, read_loop};
use crate::connection::{Client, CloseReason, Details};
use crate::server::ServerShared;
use crate::stats::Counts;
use crate::sync::lock;

/// The most a read takes (see [`crate::connection::reader`]).
const MAX_READ: usize = 256 * 1024;
/// Publish-permission verdicts a connection remembers.
const VERDICT_CACHE_SIZE: usize = 1024;

/// Subscriptions removed under one hold of the account index's write lock
/// when a connection leaves (see `drop_all_subscriptions`).
const REMOVE_CHUNK: usize = 1024;

/// How long a login with wrong credentials waits for its refusal
/// (nats-server answers at once; issue 13 asks for failures slowed down).
pub const FAILED_LOGIN_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// The reader's state for one connection.
pub struct Session {
    server: Arc<ServerShared>,
    client: Arc<Client>,
    /// The account it is counted in while logged in (see [`Account::join`]).
    joined: Option<Arc<Account>>,
    limits: Limits,
    connected: bool,
    /// CONNECT said `"protocol":1` (or more): it takes INFO updates.
    info_protocol: bool,
    /// Clients must authenticate before anything else.
    auth_required: bool,
    /// The account the connection publishes and subscribes in.
    account: Arc<Account>,
    permissions: Option<Arc<Permissions>>,
    /// Cached answers of the publish rule, by subject.
    publish_verdicts: HashMap<Box<[u8]>, bool>,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    cache: MatchCache,
    tls_identities: Vec<String>,
    /// Who this connection's messages went to during the current read.
    out: Deliveries,
    /// A PING/PONG/+OK whose overlong line is being skipped to its end.
    skipping: Option<ClientOp>,
    /// A user JWT login: its limits, expiry timer and place in its account.
    jwt: Option<crate::auth::trust::JwtSession>,
    /// What CONNECT presented, kept to check the login again when a reload
    /// changes the rules (None when it presented nothing).
    credentials: Option<Box<Credentials>>,
    /// The server's auth generation this login was checked against.
    auth_generation: u64,
    /// When a client that must log in and has not is closed.
    auth_deadline: Instant,
    /// Messages published during the current read (see [`crate::stats`]).
    received: Counts,
    /// Its account's subject mappings, and the subject they give.
    mappings: MappingCache,
}

/// The credentials fields of a CONNECT. Never logged.
struct Credentials(ConnectInfo);

impl Credentials {
    /// Keeps only what a login reads; None if the client presented nothing.
    fn of(info: &ConnectInfo) -> Option<Box<Credentials>> {
        let kept = ConnectInfo {
            user: info.user.clone(),
            pass: info.pass.clone(),
            auth_token: info.auth_token.clone(),
            nkey: info.nkey.clone(),
            sig: info.sig.clone(),
            jwt: info.jwt.clone(),
            ..ConnectInfo::default()
        };
        let any = [
            &kept.user,
            &kept.pass,
            &kept.auth_token,
            &kept.nkey,
            &kept.sig,
            &kept.jwt,
        ]
        .iter()
        .any(|f| f.is_some());
        any.then(|| Box::new(Credentials(kept)))
    }

    /// The user name or NKey it logged in with, which nats-server checks
    /// first on a reload (gone, or moved to another account: closed).
    fn named_user(&self) -> Option<&str> {
        let info = &self.0;
        info.nkey
            .as_deref()
            .filter(|k| !k.is_empty())
            .or(info.user.as_deref().filter(|u| !u.is_empty()))
    }
}

/// Why reading stops.
enum Stop {
    /// Close, flushing what is queued (the reason is for the log).
    Close(CloseReason),
    /// Bad input: nats-server's error for it, then close.
    Protocol(ProtocolError),
}

/// What a client connection waits for besides its bytes.
pub enum SessionEvent {
    /// No CONNECT came in time.
    AuthTimeout,
}

impl Role for Session {
    type Event = SessionEvent;

    async fn event(&mut self) -> SessionEvent {
        if self.auth_required && !self.connected {
            sleep_until(self.auth_deadline).await;
            SessionEvent::AuthTimeout
        } else {
            std::future::pending().await
        }
    }

    async fn on_event(&mut self, event: SessionEvent) -> Outcome {
        let SessionEvent::AuthTimeout = event;
        error!("{} - {}", self.client.tag, "Authentication Timeout");
        self.client.err_and_close(
            errors::AUTHENTICATION_TIMEOUT,
            CloseReason::AuthenticationTimeout,
        );
        Err(CloseReason::AuthenticationTimeout)
    }

    async fn on_reload(&mut self) -> Outcome {
        // Boxed, like CONNECT: a login check is rare, and every connection
        // task would otherwise carry room for its state.
        Box::pin(self.reloaded()).await
    }

    async fn on_bytes(&mut self, chunk: &Bytes, want: &mut usize) -> (usize, Outcome) {
        let (consumed, outcome) = self.handle(chunk, want).await;
        self.count_read();
        let outcome = match outcome {
            Ok(()) => Ok(()),
            Err(Stop::Close(reason)) => Err(reason),
            Err(Stop::Protocol(e)) => Err(self.protocol_error(e)),
        };
        (consumed, outcome)
    }

    fn deliveries(&mut self) -> &mut Deliveries {
        &mut self.out
    }

    fn cleanup(&mut self) {
        Session::cleanup(self);
    }
}

impl Session {
    /// `tls_identities`: what the client's certificate names, for
    /// `verify_and_map` (empty otherwise).
    pub fn new(
        server: Arc<ServerShared>,
        client: Arc<Client>,
        tls_identities: Vec<String>,
    ) -> Self {
        let opts = server.opts();
        let limits = Limits {
            max_control_line: opts.max_control_line,
            max_payload: opts.max_payload,
        };
        let auth = server.auth();
        let anonymous = auth.anonymous();
        let out = Deliveries::new(client.id);
        Session {
            auth_required: auth.required(),
            auth_generation: server.auth_generation(),
            auth_deadline: Instant::now() + auth.timeout(),
            mappings: MappingCache::default(),
            credentials: None,
            account: anonymous.account,
            permissions: None,
            publish_verdicts: HashMap::new(),
            server,
            client,
            joined: None,
            limits,
            connected: false,
            info_protocol: false,
            // Before CONNECT, nats-server acts as if verbose and pedantic were on.
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            cache: MatchCache::new(),
            tls_identities,
            out,
            skipping: None,
            jwt: None,
            received: Counts::default(),
        }
    }

    /// Reads and carries out what the client sends until the connection
    /// closes (see [`crate::connection::reader`]).
    pub async fn run<R: AsyncRead + Unpin>(mut self, reader: R) {
        // A read's worth of output is how far a consumer's backlog can grow
        // before flow control looks again: keep it well inside max_pending.
        let max_read = MAX_READ.min(self.server.opts().max_pending / 4);
        let client = self.client.clone();
        read_loop(&client, &mut self, reader, max_read).await;
    }

    /// Parses and carries out every complete frame in `chunk`, one by one
    /// (no list of operations in between). Returns how many bytes were
    /// used, and why the connection must stop, if it must.
    async fn handle(&mut self, chunk: &Bytes, want: &mut usize) -> (usize, Result<(), Stop>) {
        let mut pos = 0;
        loop {
            // The common case first: a run of PUBs, read by the parser's fast
            // path and carried out without building an operation for each.
            pos = self.publish_run(chunk, pos);
            if self.skipping.is_some()
                && let Some(op) = self.skipping.take()
            {
                let (skipped, line_ended) = parser::skip_line(&chunk[pos..]);
                pos += skipped;
                if !line_ended {
                    self.skipping = Some(op);
                    return (pos, Ok(()));
                }
                let line = Span {
                    start: pos,
                    end: pos,
                };
                if let Err(reason) = self.carry_out(op, line, chunk).await {
                    return (pos, Err(Stop::Close(reason)));
                }
            }
            match parse(chunk, pos, &self.limits) {
                Ok(Parsed::Op {
                    op,
                    control_line,
                    frame_len,
                }) => {
                    pos += frame_len;
                    let outcome = match op {
                        ClientOp::Connect { .. } => self.carry_out(op, control_line, chunk).await,
                        op => self.carry_out_now(op, control_line, chunk),
                    };
                    if let Err(reason) = outcome {
                        return (pos, Err(Stop::Close(reason)));
                    }
                }
                Ok(Parsed::Incomplete { frame_len }) => {
                    // A message's line has come but not its payload: before
                    // a login, refuse it now rather than hold up to
                    // max_payload for someone who may not publish at all
                    // (nats-server refuses the operation at its line).
                    if frame_len.is_some() && self.auth_required && !self.connected {
                        return (pos, Err(Stop::Close(self.auth_violation(None))));
                    }
                    *want = frame_len.unwrap_or(0);
                    return (pos, Ok(()));
                }
                Ok(Parsed::SkipLine { op, skipped }) => {
                    pos += skipped;
                    self.skipping = Some(op);
                }
                Err(e) => return (pos, Err(Stop::Protocol(e))),
            }
        }
    }

    async fn carry_out(&mut self, op: ClientOp, line: Span, chunk: &Bytes) -> Outcome {
        match op {
            ClientOp::Connect { json } => {
                if enabled!(Level::TRACE) {
                    self.trace_op(&op, line, chunk);
                }
                // Boxed: login (bcrypt, JWTs) happens once; every connection
                // task would otherwise carry room for its state.
                Box::pin(self.connect(json.of(chunk))).await
            }
            op => self.carry_out_now(op, line, chunk),
        }
    }

    /// Carries out the `PUB`s from `pos` on that the parser's fast path
    /// reads (`parser::parse_fast`: the usual form, the whole frame here),
    /// one after the other, while nothing else needs doing for them (the
    /// connection may publish, no protocol trace is on); returns where the
    /// first frame it left alone starts, for the general path. Each one does
    /// exactly what [`Session::carry_out_now`] does with the same `PUB`.
    #[inline(never)]
    fn publish_run(&mut self, chunk: &Bytes, mut pos: usize) -> usize {
        if (self.auth_required && !self.connected) || self.skipping.is_some() {
            return pos;
        }
        // Tracing is looked at once per run: a change of the log level
        // applies from the next read on.
        if enabled!(Level::TRACE) {
            return pos;
        }
        while let Some(Parsed::Op {
            op:
                ClientOp::Pub {
                    subject,
                    reply,
                    size,
                    payload,
                },
            frame_len,
            ..
        }) = parser::parse_fast(chunk, pos, &self.limits)
        {
            pos += frame_len;
            self.received.count(payload.end - payload.start);
            // The fast path read it single-spaced: from the reply (or the
            // size) on, the frame is what a MSG of it ends with.
            let tail = Some(subject.end + 1);
            let sizes = Sizes::Msg(size.of(chunk));
            self.publish_inlined(chunk, subject, reply, sizes, payload, tail);
        }
        pos
    }

    /// Everything but CONNECT: no await, so the per-message path builds
    /// and polls no future.
    #[inline]
    fn carry_out_now(&mut self, op: ClientOp, line: Span, chunk: &Bytes) -> Outcome {
        if enabled!(Level::TRACE) {
            self.trace_op(&op, line, chunk);
        }
        if self.auth_required && !self.connected {
            return Err(self.auth_violation(None));
        }
        self.process(op, chunk)
    }

    /// Carries out one operation. A `PUB` is done here, inlined into the
    /// read loop with everything it does for a message that needs nothing
    /// unusual; the rest goes to [`Session::process_other`].
    #[inline]
    fn process(&mut self, op: ClientOp, chunk: &Bytes) -> Outcome {
        match op {
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => {
                let sizes = Sizes::Msg(size.of(chunk));
                let tail = verbatim_tail(chunk, subject, reply, &[size], payload);
                self.received.count(payload.end - payload.start);
                self.publish(chunk, subject, reply, sizes, payload, tail);
                Ok(())
            }
            op => self.process_other(op, chunk),
        }
    }

    #[inline(never)]
    fn process_other(&mut self, op: ClientOp, chunk: &Bytes) -> Outcome {
        match op {
            ClientOp::Connect { .. } => Ok(()),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => {
                let sizes = Sizes::Msg(size.of(chunk));
                let tail = verbatim_tail(chunk, subject, reply, &[size], payload);
                self.received.count(payload.end - payload.start);
                self.publish(chunk, subject, reply, sizes, payload, tail);
                Ok(())
            }
            ClientOp::HPub {
                subject,
                reply,
                header_len,
                header_size,
                total_size,
                message,
            } => {
                if !self.headers {
                    debug!(
                        "{} - Headers not enabled for this connection",
                        self.client.tag
                    );
                    return Err(CloseReason::ProtocolViolation);
                }
                // An empty header block is a plain message, as on nats-server.
                let (sizes, tail) = match header_len {
                    0 => (Sizes::Msg(total_size.of(chunk)), None),
                    _ => (
                        Sizes::HMsg(header_size.of(chunk), total_size.of(chunk)),
                        verbatim_tail(chunk, subject, reply, &[header_size, total_size], message),
                    ),
                };
                self.received.count(message.end - message.start);
                self.publish(chunk, subject, reply, sizes, message, tail);
                Ok(())
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.subscribe(subject.of(chunk), queue.map(|q| q.of(chunk)), sid.of(chunk));
                Ok(())
            }
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(sid.of(chunk), max);
                self.ok();
                Ok(())
            }
            ClientOp::Ping => {
                self.reply(encode::PONG, "PONG");
                if self.connected {
                    self.client.ponged();
                }
                if self.connected && self.info_protocol {
                    self.client.async_info.store(true, Ordering::Release);
                }
                Ok(())
            }
            ClientOp::Pong => {
                self.client.pong_received();
                Ok(())
            }
            // A client's INFO is ignored, but it must be a JSON object.
            ClientOp::Info { json } => match serde_json::from_slice::<
                serde_json::Map<String, serde_json::Value>,
            >(json.of(chunk))
            {
                Ok(_) => Ok(()),
                Err(_) => Err(CloseReason::ParseError),
            },
            ClientOp::Ok => Ok(()),
        }
    }

    async fn connect(&mut self, json: &[u8]) -> Outcome {
        let info = match ConnectInfo::from_json(json) {
            Ok(info) => info,
            Err(e) => {
                debug!("{} - Invalid CONNECT: {}", self.client.tag, e);
                return Err(CloseReason::ParseError);
            }
        };
        let keep = |field: Option<bool>, current: bool| field.unwrap_or(current);
        self.verbose = keep(info.verbose, self.verbose);
        self.pedantic = keep(info.pedantic, self.pedantic);
        self.echo = keep(info.echo, self.echo);
        self.headers = keep(info.headers, self.headers);
        self.client.headers.store(self.headers, Ordering::Relaxed);
        self.no_responders = keep(info.no_responders, self.no_responders);
        if let Some(protocol) = info.protocol {
            self.info_protocol = protocol >= 1;
        }
        self.client.connected();
        // A second CONNECT may log in as someone else: as current
        // nats-server does, the subscriptions made under the first one are
        // dropped, so none outlives the rights it was made with.
        if self.connected {
            self.drop_all_subscriptions();
        }
        self.credentials = Credentials::of(&info);
        // Every CONNECT is authenticated, a second one too (as nats-server).
        let mut user = None;
        let mut jwt_user = None;
        if self.auth_required {
            self.auth_generation = self.server.auth_generation();
            let auth = self.server.auth();
            match auth
                .authenticate_client(&info, &self.client, &self.tls_identities)
                .await
            {
                Ok(identity) => {
                    user = identity.user.clone();
                    jwt_user = identity.jwt.as_ref().map(|j| j.user.clone());
                    self.logged_in(identity);
                }
                Err(failure) => {
                    // Wrong credentials are answered late: a client guessing
                    // passwords one after another gets two tries a second.
                    // (bcrypt itself is bounded to one check per core.)
                    if failure.client_error() == errors::AUTHORIZATION_VIOLATION {
                        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
                    }
                    return Err(self.refused(&info, failure));
                }
            }
        }
        if self.no_responders && !self.headers {
            self.client.err_and_close(
                errors::NO_RESPONDERS_REQUIRES_HEADERS,
                CloseReason::ProtocolViolation,
            );
            return Err(CloseReason::ProtocolViolation);
        }
        let first_login = !self.connected;
        self.connected = true;
        self.client.set_details(Details {
            name: info.name.unwrap_or_default(),
            lang: info.lang.unwrap_or_default(),
            version: info.version.unwrap_or_default(),
            user: user.or_else(|| jwt_user.clone()),
            account: Some(self.account.name.clone()),
            jwt: info.jwt.filter(|_| jwt_user.is_some()),
            ..Details::default()
        });
        self.join_account();
        if first_login {
            crate::events::client_connected(&self.server, &self.client, &self.account.name);
        }
        self.ok();
        Ok(())
    }

    fn logged_in(&mut self, identity: Identity) {
        let responses = identity
            .permissions
            .as_ref()
            .and_then(|p| p.responses.clone());
        self.client.track_responses(responses);
        self.publish_verdicts.clear();
        self.permissions = identity.permissions;
        self.client.set_permissions(self.permissions.clone());
        if !Arc::ptr_eq(&self.account, &identity.account) {
            self.move_subscriptions(identity.account);
        }
        // A user JWT's payload limit is enforced by the parser.
        self.jwt = identity
            .jwt
            .map(|login| crate::auth::trust::JwtSession::start(login, &self.client));
        self.read_limits();
    }

    /// Subscriptions this connection may hold: `max_subscriptions`, or a
    /// user JWT's lower limit.
    fn max_subscriptions(&self) -> Option<usize> {
        let configured = self.server.opts().max_subscriptions;
        let configured = (configured > 0).then_some(configured);
        match (configured, self.jwt.as_ref().and_then(|j| j.max_subs())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The parser's limits from the settings in force (a user JWT's payload
    /// limit lower still).
    fn read_limits(&mut self) {
        let opts = self.server.opts();
        let jwt_payload = self.jwt.as_ref().and_then(|j| j.login.max_payload);
        self.limits.max_control_line = opts.max_control_line;
        self.limits.max_payload =
            jwt_payload.map_or(opts.max_payload, |max| max.min(opts.max_payload));
    }

    /// A reload changed the settings: new limits at once and, when the
    /// login rules changed, the login checked again as nats-server checks
    /// it. A client that logged in as a user or NKey that is gone, or now
    /// belongs to another account, is closed (it will reconnect and log in
    /// afresh); one whose credentials no longer pass is told
    /// `Authorization Violation`; otherwise its new permissions apply at
    /// once, and each subscription they deny is removed with an error.
    /// User JWT logins (operator mode) keep their login: JWTs are not in
    /// the configuration.
    async fn reloaded(&mut self) -> Outcome {
        self.read_limits();
        let generation = self.server.auth_generation();
        if generation == self.auth_generation {
            return Ok(());
        }
        self.auth_generation = generation;
        let auth = self.server.auth();
        self.auth_required = auth.required();
        if !self.connected || self.jwt.is_some() {
            return Ok(());
        }
        if let Some(name) = self.credentials.as_ref().and_then(|c| c.named_user())
            && auth
                .account_of(name)
                .is_none_or(|a| !Arc::ptr_eq(&a, &self.account))
        {
            debug!(
                "{} - Closed on reload: {:?} is gone or in another account",
                self.client.tag, name
            );
            return Err(CloseReason::ClientClosed);
        }
        let presented = self
            .credentials
            .as_ref()
            .map_or_else(ConnectInfo::default, |c| c.0.clone());
        let identity = if self.auth_required {
            auth.authenticate(
                &presented,
                self.client.nonce.as_deref(),
                &self.tls_identities,
            )
            .await
        } else {
            Ok(auth.anonymous())
        };
        match identity {
            Ok(identity) => {
                self.logged_in(identity);
                self.drop_denied_subscriptions();
                self.out.flush();
                Ok(())
            }
            Err(failure) => {
                debug!("{} - Authentication failed: {}", self.client.tag, failure);
                Err(self.auth_violation(presented.user.as_deref()))
            }
        }
    }

    /// After new permissions: removes each subscription they no longer
    /// allow, telling the client and the log as nats-server does.
    fn drop_denied_subscriptions(&mut self) {
        let rule = self.permissions.as_ref().and_then(|p| p.subscribe.clone());
        let subs: Vec<_> = lock(&self.client.subs).values().cloned().collect();
        let who = self.user_tag();
        for sub in subs {
            if rule
                .as_ref()
                .is_none_or(|r| r.allows_subscription(&sub.subject, sub.queue.as_deref()))
            {
                // Kept: its filter of denied subjects follows the new rules.
                if sub.deny.is_some() || self.deny_filter(&sub.subject).is_some() {
                    let account = self.account.clone();
                    self.replace_subscription(&sub, &account);
                }
                continue;
            }
            sub.cancel();
            let subject = String::from_utf8_lossy(&sub.subject);
            let sid = String::from_utf8_lossy(&sub.sid);
            match &sub.queue {
                Some(queue) => {
                    let queue = String::from_utf8_lossy(queue);
                    self.err(&format!("Permissions Violation for Subscription to {subject:?} using queue {queue:?} (sid {sid:?})"));
                    info!(
                        "Removed sub {subject:?} using queue {queue:?} (sid {sid:?}) for {who} - not authorized"
                    );
                }
                None => {
                    self.err(&format!(
                        "Permissions Violation for Subscription to {subject:?} (sid {sid:?})"
                    ));
                    info!("Removed sub {subject:?} (sid {sid:?}) for {who} - not authorized");
                }
            }
        }
    }

    /// The filter of denied subjects a wildcard subscription on `subject`
    /// needs under the current permissions, if any.
    fn deny_filter(&self, subject: &[u8]) -> Option<Arc<Rule>> {
        self.permissions
            .as_ref()
            .and_then(|p| p.subscribe.as_ref())
            .filter(|r| !subject::is_literal(subject) && r.deny_overlaps(subject))
            .map(|r| Arc::new(r.clone()))
    }

    /// Puts a new subscription in place of `old` (same subject, queue and
    /// sid) in `to`, with the deny filter the current permissions give it.
    fn replace_subscription(&mut self, old: &Arc<Subscription>, to: &Arc<Account>) {
        let cluster = self.client.cluster.clone();
        let _hold = crate::route::hold_interest(&cluster);
        if old.account.sublist.remove(old)
            && let Some(cluster) = &self.client.cluster
        {
            cluster.local_unsub(old);
        }
        let mut sub = Subscription::new(
            self.client.clone(),
            to.clone(),
            old.subject.clone(),
            old.queue.clone(),
            old.sid.clone(),
        );
        sub.deny = self.deny_filter(&sub.subject);
        let sub = Arc::new(sub);
        let mut subs = lock(&self.client.subs);
        subs.remove(&old.sid);
        if to.sublist.insert(sub.clone()).is_ok() {
            if let Some(cluster) = &self.client.cluster {
                cluster.local_sub(&sub);
            }
            subs.insert(sub.sid.clone(), sub);
        }
        drop(subs);
        self.cache.clear();
    }

    /// `User "alice"` (or the NKey), as nats-server names a client in logs.
    fn user_tag(&self) -> String {
        match self.credentials.as_ref().and_then(|c| c.named_user()) {
            Some(name) => format!("User {name:?}"),
            None => "User \"\"".into(),
        }
    }

    /// A refused login: the reason goes to the debug log (as on
    /// nats-server), the client gets `Authorization Violation` (or, for a
    /// full account, nats-server's own text) and is disconnected.
    fn refused(&mut self, info: &ConnectInfo, failure: AuthFailure) -> CloseReason {
        debug!("{} - Authentication failed: {}", self.client.tag, failure);
        crate::events::authentication_failed(&self.server, &self.client);
        let text = failure.client_error();
        if text != errors::AUTHORIZATION_VIOLATION {
            error!("{} - {}", self.client.tag, text);
            self.client
                .err_and_close(text, CloseReason::AuthenticationViolation);
            return CloseReason::AuthenticationViolation;
        }
        // In operator mode nats-server names nobody in this line.
        let who = match self.server.auth().trust() {
            Some(_) => None,
            None => info.user.as_deref().or(info.nkey.as_deref()),
        };
        self.auth_violation(who)
    }

    /// A reload logged the client in to another account: its
    /// subscriptions move there with it, under the current permissions.
    fn move_subscriptions(&mut self, to: Arc<Account>) {
        let subs: Vec<_> = lock(&self.client.subs).values().cloned().collect();
        for old in &subs {
            self.replace_subscription(old, &to);
        }
        self.cache.clear();
        self.account = to;
        if self.connected {
            self.join_account();
        }
    }

    /// Counts the client in the account it is logged in to now, and out of
    /// the one it was in.
    fn join_account(&mut self) {
        if let Some(old) = &self.joined {
            if Arc::ptr_eq(old, &self.account) {
                return;
            }
            old.leave(self.client.id);
        }
        self.account.join(&self.client);
        self.joined = Some(self.account.clone());
    }

    /// Refuses the connection as nats-server does: the client is only told
    /// `Authorization Violation`, the log says who it claimed to be.
    fn auth_violation(&mut self, user: Option<&str>) -> CloseReason {
        match user {
            Some(user) => error!(
                "{} - authentication error - User {:?}",
                self.client.tag, user
            ),
            None => error!("{} - authentication error", self.client.tag),
        }
        self.client.err_and_close(
            errors::AUTHORIZATION_VIOLATION,
            CloseReason::AuthenticationViolation,
        );
        CloseReason::AuthenticationViolation
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !subject::is_valid_subject(subject) {
            self.err(errors::INVALID_SUBJECT);
            return;
        }
        let rule = self.permissions.as_ref().and_then(|p| p.subscribe.as_ref());
        if let Some(rule) = rule
            && !rule.allows_subscription(subject, queue)
        {
            let subject = String::from_utf8_lossy(subject);
            let text = match queue {
                Some(q) => format!(
                    "Permissions Violation for Subscription to \"{subject}\" using queue \"{}\"",
                    String::from_utf8_lossy(q)
                ),
                None => format!("Permissions Violation for Subscription to \"{subject}\""),
            };
            error!(
                "{} - Subscription Violation - {}",
                self.client.tag,
                self.user_for_log(&subject)
            );
            self.err(&text);
            return;
        }
        let deny = self.deny_filter(subject);
        let max = self.max_subscriptions();
        let mut subs = lock(&self.client.subs);
        // At the limit, even a sid already in use is refused, as on
        // nats-server (which checks the limit first).
        if let Some(max) = max
            && subs.len() >= max
        {
            drop(subs);
            error!(
                "{} - {}",
                self.client.tag,
                errors::MAX_SUBSCRIPTIONS_EXCEEDED
            );
            self.err(errors::MAX_SUBSCRIPTIONS_EXCEEDED);
            return;
        }
        // A sid already in use is ignored, as nats-server ignores it.
        if !subs.contains_key(sid) {
            let cluster = self.client.cluster.clone();
            let _hold = crate::route::hold_interest(&cluster);
            let mut sub = Subscription::new(
                self.client.clone(),
                self.account.clone(),
                Bytes::copy_from_slice(subject),
                queue.map(Bytes::copy_from_slice),
                Bytes::copy_from_slice(sid),
            );
            sub.deny = deny;
            let sub = Arc::new(sub);
            if self.account.sublist.insert(sub.clone()).is_err() {
                drop(subs);
                self.err(errors::INVALID_SUBJECT);
                return;
            }
            if let Some(cluster) = &self.client.cluster {
                cluster.local_sub(&sub);
            }
            subs.insert(sub.sid.clone(), sub);
        }
        drop(subs);
        self.ok();
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        let Some(sub) = lock(&self.client.subs).get(sid).cloned() else {
            return;
        };
        if let Some(max) = max.filter(|&m| m > 0)
            && sub.set_max(max)
        {
            return;
        }
        sub.cancel();
    }

    /// Routes one message to every matching subscription.
    #[inline]
    fn publish(
        &mut self,
        chunk: &Bytes,
        subject: Span,
        reply: Option<Span>,
        sizes: Sizes<'_>,
        message: Span,
        tail: Option<usize>,
    ) {
        self.publish_inlined(chunk, subject, reply, sizes, message, tail);
    }

    /// [`Session::publish`], inlined into [`Session::publish_run`]'s loop
    /// (a call per message there costs more than its own checks).
    #[inline(always)]
    fn publish_inlined(
        &mut self,
        chunk: &Bytes,
        subject: Span,
        reply: Option<Span>,
        sizes: Sizes<'_>,
        message: Span,
        tail: Option<usize>,
    ) {
        let subj = subject.of(chunk);
        if self.pedantic && !subject::is_valid_literal_subject(subj) {
            // nats-server complains but still delivers the message.
            self.err(errors::INVALID_PUBLISH_SUBJECT);
        }
        // Subject mappings apply first, as on nats-server: permissions and
        // routing see the mapped subject.
        if self.account.has_mappings() {
            self.publish_mapped(chunk, subj, reply, sizes, message, tail);
        } else {
            self.route_published(chunk, subj, reply, sizes, message, tail);
        }
    }

    #[inline(never)]
    fn publish_mapped(
        &mut self,
        chunk: &Bytes,
        subj: &[u8],
        reply: Option<Span>,
        sizes: Sizes<'_>,
        message: Span,
        tail: Option<usize>,
    ) {
        let mut mappings = std::mem::take(&mut self.mappings);
        let cluster = || self.server.cluster.as_ref().map(|c| c.name());
        let to = mappings.map(&self.account, subj, cluster).unwrap_or(subj);
        self.route_published(chunk, to, reply, sizes, message, tail);
        self.mappings = mappings;
    }

    /// Routes one message, under the subject it has after mapping. Inlined
    /// into the read loop: what most messages need is a few checks, the
    /// match (from the connection's cache) and the deliveries; the rest
    /// (permissions, imports, replies to cross-account requests, no
    /// responders) is in functions of its own.
    #[inline(always)]
    fn route_published(
        &mut self,
        chunk: &Bytes,
        subj: &[u8],
        reply: Option<Span>,
        sizes: Sizes<'_>,
        message: Span,
        tail: Option<usize>,
    ) {
        if self.permissions.is_some() && !self.may_publish(subj) {
            self.publish_denied(subj);
            return;
        }
        // nats-server acknowledges before it delivers.
        self.ok();
        let msg = Message {
            chunk,
            subject: subj,
            reply: reply.map(|r| r.of(chunk)),
            sizes,
            body: message,
            tail,
        };
        if self.account.routes_apply_to(subj) {
            self.route_with_imports(&msg);
            return;
        }
        let matches = self.cache.lookup(&self.account, subj);
        let matched_nothing = matches.plain.is_empty() && matches.queues.is_empty();
        if !matched_nothing {
            let skip = (!self.echo).then_some(self.client.id);
            self.out.deliver_all(matches, &msg, skip, &[]);
        }
        if subj.starts_with(RESPONSE_PREFIX) || (matched_nothing && self.no_responders) {
            self.after_delivery(&msg, matched_nothing, false);
        }
    }

    /// [`Session::route_published`] in an account that exports or imports:
    /// the importers first, then the local subscribers.
    #[inline(never)]
    fn route_with_imports(&mut self, msg: &Message<'_>) {
        // Queue groups an importing account's local member took (no
        // allocation unless there is one).
        let mut served = Vec::new();
        let mut imported = false;
        if let Some(routes) = self.account.routes() {
            let cluster = self.server.cluster.as_deref();
            imported =
                self.out
                    .route_to_importers(&self.account, &routes, msg, &mut served, cluster);
        }
        let matches = self.cache.lookup(&self.account, msg.subject);
        let matched_nothing = matches.plain.is_empty() && matches.queues.is_empty();
        let skip = (!self.echo).then_some(self.client.id);
        self.out.deliver_all(matches, msg, skip, &served);
        self.after_delivery(msg, matched_nothing, imported);
    }

    /// A reply to a cross-account request goes back to its requester; a
    /// request nobody took gets its no-responders status.
    #[inline(never)]
    fn after_delivery(&mut self, msg: &Message<'_>, matched_nothing: bool, imported: bool) {
        if msg.subject.starts_with(RESPONSE_PREFIX) {
            self.out.route_response(&self.account, msg);
        }
        if matched_nothing
            && !imported
            && self.no_responders
            && let Some(reply) = msg.reply
        {
            self.no_responders_reply(reply);
        }
    }

    #[cold]
    #[inline(never)]
    fn publish_denied(&mut self, subj: &[u8]) {
        let text = format!(
            "Permissions Violation for Publish to \"{}\"",
            String::from_utf8_lossy(subj)
        );
        error!(
            "{} - Publish Violation - {}",
            self.client.tag,
            String::from_utf8_lossy(subj)
        );
        self.err(&text);
    }

    /// Adds what this read published to the connection's, its account's
    /// and the server's counters: once per read, never per message (see
    /// [`crate::stats`]).
    #[inline]
    fn count_read(&mut self) {
        let received = std::mem::take(&mut self.received);
        self.client.read_done(received);
        if received.is_empty() {
            return;
        }
        let stats = &self.server.stats;
        stats.received.add(received);
        stats.received_from_clients.add(received);
        self.account.stats.received.add(received);
    }

    /// Checks the publish rule (verdicts cached per subject), then open
    /// replies allowed by `allow_responses`.
    fn may_publish(&mut self, subject: &[u8]) -> bool {
        let Some(rule) = self.permissions.as_ref().and_then(|p| p.publish.as_ref()) else {
            return true;
        };
        let allowed = match self.publish_verdicts.get(subject) {
            Some(&verdict) => verdict,
            None => {
                let verdict = rule.allows_publish(subject);
                if self.publish_verdicts.len() >= VERDICT_CACHE_SIZE {
                    self.publish_verdicts.clear();
                }
                self.publish_verdicts.insert(subject.into(), verdict);
                verdict
            }
        };
        allowed || self.client.take_response(subject)
    }

    fn user_for_log(&self, subject: &str) -> String {
        format!("Subject {subject:?}")
    }

    /// Sends a requester the 503 status that says nobody is listening, on
    /// its own subscription to the reply subject.
    fn no_responders_reply(&mut self, reply: &[u8]) {
        let matches = self.account.sublist.matches(reply);
        let Some(sub) = matches.plain.iter().find(|s| s.client.id == self.client.id) else {
            return;
        };
        let header = Bytes::from_static(encode::NO_RESPONDERS_HEADER);
        let msg = Message {
            chunk: &header,
            subject: reply,
            reply: None,
            sizes: Sizes::HMsg(b"16", b"16"),
            body: Span {
                start: 0,
                end: header.len(),
            },
            tail: None,
        };
        self.out.deliver(sub, &msg);
    }

    /// Queues a reply to this client, flushed after the current read.
    fn reply(&mut self, bytes: &[u8], trace_as: &str) {
        trace!("{} - ->> [{}]", self.client.tag, trace_as);
        if self.client.enqueue(|b| b.put(bytes)).wake {
            self.out.touched(&self.client);
        }
    }

    #[inline]
    fn ok(&mut self) {
        if self.verbose {
            self.reply(encode::OK, "OK");
        }
    }

    fn err(&mut self, text: &str) {
        trace!("{} - ->> [-ERR '{}']", self.client.tag, text);
        if self.client.enqueue(|b| encode::err(b.buf_mut(), text)).wake {
            self.out.touched(&self.client);
        }
    }

    /// Bad input: nats-server's error for it, if it has one; the reason to
    /// close with.
    fn protocol_error(&mut self, e: ProtocolError) -> CloseReason {
        match e.client_error() {
            Some(text) => {
                if e == ProtocolError::UnknownOperation {
                    debug!("{} - Client parser ERROR", self.client.tag);
                } else {
                    tracing::error!("{} - {}", self.client.tag, text);
                }
                self.client.err_and_close(text, CloseReason::ParseError);
                CloseReason::ParseError
            }
            None => {
                tracing::error!("{} - {}", self.client.tag, e);
                CloseReason::ProtocolViolation
            }
        }
    }

    fn trace_op(&self, op: &ClientOp, line: Span, chunk: &Bytes) {
        let tag = &self.client.tag;
        match op {
            ClientOp::Connect { json } => {
                trace!("{} - <<- [CONNECT {}]", tag, redact_connect(json.of(chunk)));
            }
            ClientOp::Pub { payload: body, .. } | ClientOp::HPub { message: body, .. } => {
                crate::log::trace_received(tag, line.of(chunk), Some(body.of(chunk)))
            }
            _ => crate::log::trace_received(tag, line.of(chunk), None),
        }
    }

    /// Removes every subscription of the connection (from the index and
    /// the cluster's interest).
    fn drop_all_subscriptions(&mut self) {
        // Many subscriptions take a while to remove: on a multi-threaded
        // runtime the worker's other tasks are handed to another thread
        // meanwhile, so that nobody else's messages wait for this.
        let many = lock(&self.client.subs).len() > REMOVE_CHUNK;
        let threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if many && threaded {
            tokio::task::block_in_place(|| self.remove_all_subscriptions());
        } else {
            self.remove_all_subscriptions();
        }
    }

    fn remove_all_subscriptions(&mut self) {
        let mut left: Vec<_> = lock(&self.client.subs).drain().map(|(_, s)| s).collect();
        // In chunks, each under the index's write lock once: a client leaving
        // with 300 000 subscriptions must not hold every publisher of the
        // account up until the last one is gone.
        let cluster = self.client.cluster.clone();
        let hold = crate::route::hold_interest(&cluster);
        let mut subs = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let mut chunk = left.split_off(left.len().saturating_sub(REMOVE_CHUNK));
            self.account.sublist.remove_all(&mut chunk);
            subs.append(&mut chunk);
        }
        if let Some(cluster) = &self.client.cluster {
            cluster.local_unsubs(&subs);
        }
        drop(hold);
        if enabled!(Level::TRACE) {
            for sub in &subs {
                trace!(
                    "{} - <-> [DELSUB {}]",
                    self.client.tag,
                    String::from_utf8_lossy(&sub.sid)
                );
            }
        }
        self.cache.clear();
    }

    fn cleanup(&mut self) {
        // What `/connz?state=closed` shows of its subscriptions, bounded: a
        // client that leaves with 300 000 must not make the ring hold them.
        let subs: Vec<_> = lock(&self.client.subs)
            .values()
            .take(crate::connection::closed::MAX_CLOSED_SUBS)
            .map(|s| ClosedSub::of(s))
            .collect();
        self.drop_all_subscriptions();
        self.count_read();
        let reason = self.client.close_reason();
        let stats = &self.server.stats;
        match reason {
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline => {
                stats.slow_consumers.inc(false);
                self.account.stats.slow_consumers.inc();
            }
            CloseReason::StaleConnection => stats.stale_connections.inc(false),
            _ => {}
        }
        let sent = self.client.sent();
        stats.sent_to_closed_clients.add(sent);
        self.account.stats.sent_to_closed.add(sent);
        if let Some(account) = self.joined.take() {
            account.leave(self.client.id);
        }
        self.server.closed.push(Closed::of(&self.client, subs));
        if self.connected {
            crate::events::client_disconnected(&self.server, &self.client, &self.account.name);
        }
        debug!(
            "{} - Client connection closed: {}",
            self.client.tag,
            self.client.close_reason().as_str()
        );
    }
}

//! The server: state shared by every connection ([`ServerShared`]), the
//! accept loop, and the handle that starts and stops it all ([`Server`]).
//!
//! **Owns**: the wiring. [`ServerShared`] holds what every connection reads
//! (options, the authenticator, the INFO template, the accounts, TLS, the
//! cluster, the table of clients), each swapped whole by [`Server::reload`]
//! (what may change is decided in `reload`). It accepts clients and hands
//! each to the client role (`client::serve`); it starts, drains and stops.
//! **May not touch**: the protocol; connections learn of a reload through
//! `Client::settings_reloaded` and act on it themselves.

pub mod reload;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use rnats_proto::errors;
use rnats_proto::messages::ServerInfo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex as AsyncMutex, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::accounts::Accounts;
use crate::auth::{self, Authenticator};
use crate::connection::{Client, CloseReason};
use crate::options::Options;
use crate::sync::{lock, read_lock, write_lock};
use crate::tls::TlsOptions;
use tokio_rustls::TlsAcceptor;

/// The NATS server version whose protocol and behaviour rnats matches.
/// Clients read it from INFO to decide which features they may use.
pub const COMPATIBLE_VERSION: &str = "2.9.10";
/// rnats's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// State every connection shares.
pub struct ServerShared {
    /// The settings in force; a reload swaps in new ones whole.
    opts: RwLock<Arc<Options>>,
    pub id: String,
    pub name: String,
    pub accounts: Accounts,
    /// Who may log in and what they may do; swapped whole by a reload.
    auth: RwLock<Arc<Authenticator>>,
    /// Counts reloads that changed `auth` or the accounts: a session
    /// logged in under an older one checks its login again.
    auth_generation: AtomicU64,
    /// Counts reloads: connections re-read their settings when it moves.
    settings_generation: AtomicU64,
    /// TLS for clients; a reload (SIGHUP) swaps in new certificates.
    tls: std::sync::RwLock<Option<Arc<TlsSetup>>>,
    /// This server's side of its cluster, when clustered.
    pub cluster: Option<Arc<crate::route::Cluster>>,
    /// The server's own internal client, for its services (the system
    /// account's requests; later monitoring and JetStream).
    pub system: crate::system::SystemClient,
    /// An internal client whose subscriptions the cluster never hears of:
    /// for services only this server may answer (`$SYS.REQ.USER.*.INFO`,
    /// about a connection of this server).
    pub system_local: crate::system::SystemClient,
    info: RwLock<Arc<ServerInfo>>,
    clients: std::sync::Mutex<HashMap<u64, Arc<Client>>>,
    next_client_id: AtomicU64,
    shutting_down: AtomicBool,
    /// In lame duck mode: no new clients, and this server's own client
    /// URLs are no longer advertised.
    lame_duck: AtomicBool,
    all_clients_gone: Notify,
    /// The server's traffic and event counters (see [`crate::stats`]).
    pub stats: crate::stats::ServerStats,
    /// The last closed client connections, for monitoring.
    pub closed: crate::connection::closed::ClosedRing,
    pub started: std::time::SystemTime,
    /// When the configuration in force was loaded (start or last reload).
    config_loaded: std::sync::Mutex<std::time::SystemTime>,
    /// Where monitoring listens (HTTP, HTTPS), once started.
    monitor_addrs: std::sync::OnceLock<(Option<SocketAddr>, Option<SocketAddr>)>,
    /// Requests each monitoring endpoint answered, by path.
    pub(crate) http_requests: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// JetStream, when enabled (see [`crate::jetstream`]).
    pub jetstream: std::sync::OnceLock<rnats_jetstream::JetStream<crate::jetstream::ServerHost>>,
    /// One rewiring of the account JWTs' imports and exports at a time
    /// (see [`ServerShared::rewire_jwt_accounts`]).
    jwt_wiring: std::sync::Mutex<()>,
}

/// The TLS options in force and the acceptor built from them.
pub type TlsSetup = (TlsOptions, TlsAcceptor);

impl ServerShared {
    /// The settings in force.
    pub fn opts(&self) -> Arc<Options> {
        read_lock(&self.opts).clone()
    }

    /// The login rules in force.
    pub fn auth(&self) -> Arc<Authenticator> {
        read_lock(&self.auth).clone()
    }

    /// Moves whenever a reload changed the login rules or the accounts.
    pub(crate) fn auth_generation(&self) -> u64 {
        self.auth_generation.load(Ordering::Acquire)
    }

    /// A connection id, unique across clients and routes (nats-server's
    /// `cid`): logs and the delivery path tell connections apart by it.
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Moves with every reload.
    pub(crate) fn settings_generation(&self) -> u64 {
        self.settings_generation.load(Ordering::Acquire)
    }

    /// The TLS setup new connections use (None without TLS).
    pub fn tls(&self) -> Option<Arc<TlsSetup>> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The INFO line for a new client (or an update for a connected one).
    pub(crate) fn info_for(&self, client: &Client) -> Vec<u8> {
        self.info_line(client, false)
    }

    /// An INFO line for `client`; `lame_duck` only in the one update that
    /// announces lame duck mode (as nats-server, so that later updates do
    /// not announce it again).
    fn info_line(&self, client: &Client, lame_duck: bool) -> Vec<u8> {
        let mut info = (**read_lock(&self.info)).clone();
        info.client_id = Some(client.id);
        info.client_ip = Some(client.addr.ip().to_string());
        info.nonce = client.nonce.clone();
        info.lame_duck = lame_duck;
        if let Some(cluster) = &self.cluster {
            info.cluster = Some(cluster.name());
            info.connect_urls = cluster.connect_urls();
        }
        info.to_protocol_line()
    }

    /// Whether the server is in lame duck mode.
    pub fn in_lame_duck_mode(&self) -> bool {
        self.lame_duck.load(Ordering::Acquire)
    }

    /// The port clients connect to (advertised, or bound).
    pub fn client_port(&self) -> u16 {
        read_lock(&self.info).port
    }

    /// The host clients are told to connect to: `client_advertise`'s, or
    /// the listen address.
    pub fn client_host(&self) -> String {
        read_lock(&self.info).host.clone()
    }

    /// Routes came or went: clients are sent the new `connect_urls`.
    pub(crate) fn cluster_changed(&self) {
        let Some(cluster) = &self.cluster else { return };
        if !cluster.connect_urls_changed() {
            return;
        }
        let clients: Vec<_> = lock(&self.clients).values().cloned().collect();
        for client in clients {
            if client.async_info.load(Ordering::Acquire) {
                client.send_now(&self.info_for(&client));
            }
        }
    }

    pub(crate) fn remove_client(&self, client: &Client) {
        let mut clients = lock(&self.clients);
        clients.remove(&client.id);
        if clients.is_empty() {
            self.all_clients_gone.notify_waiters();
        }
    }

    /// Subscriptions in the global account (the only one without an
    /// `accounts {}` block).
    pub fn subscription_count(&self) -> usize {
        self.accounts.global().sublist.count()
    }

    pub fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }

    /// The connected clients, in no order.
    pub fn clients(&self) -> Vec<Arc<Client>> {
        lock(&self.clients).values().cloned().collect()
    }

    /// The client connection with this id, if it is open.
    pub fn client(&self, id: u64) -> Option<Arc<Client>> {
        lock(&self.clients).get(&id).cloned()
    }

    /// Where monitoring listens: (HTTP, HTTPS).
    pub fn monitor_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.monitor_addrs.get().copied().unwrap_or_default()
    }

    /// The system account's name, if there is one.
    pub fn system_account_name(&self) -> Option<String> {
        match self.auth().trust() {
            Some(trust) => trust.system_account().map(|s| s.key.clone()),
            None => self.opts().system_account.clone(),
        }
    }

    /// The account configurations in force: the `accounts {}` block, and
    /// in operator mode those of the account JWTs.
    pub fn account_configs(&self) -> Vec<crate::options::AccountConfig> {
        match self.auth().trust() {
            Some(trust) => {
                let mut configs = trust.account_configs();
                if let Some(sys) = &trust.system_account {
                    crate::accounts::add_system_imports(&mut configs, sys);
                }
                configs
            }
            None => account_configs(&self.opts()),
        }
    }

    /// Operator mode: wires the imports and exports of every account JWT
    /// known now again, after one arrived or changed at run time (pushed,
    /// fetched from the resolver, or reloaded), as nats-server applies an
    /// account's new claims and refreshes the accounts importing from it.
    /// Subscriptions already made follow on the routes too.
    fn rewire_jwt_accounts(&self) {
        let Some(trust) = self.auth().trust().cloned() else {
            return;
        };
        let _one_at_a_time = lock(&self.jwt_wiring);
        for account in trust.known_accounts() {
            self.accounts.adopt(&account);
        }
        let plan = match self.accounts.plan(&self.account_configs()) {
            Ok(plan) => plan,
            Err(e) => {
                error!("Could not wire the accounts' imports and exports: {e}");
                return;
            }
        };
        self.rewire_accounts(|| self.accounts.apply_routes(plan));
    }

    /// Puts new account wiring in force with `apply`; when clustered,
    /// through [`crate::route::Cluster::rewire`], so that subscriptions of an
    /// account whose stream imports changed stand for their new subjects on
    /// the routes.
    fn rewire_accounts<R>(&self, apply: impl FnOnce() -> R) -> R {
        match &self.cluster {
            Some(cluster) => cluster.rewire(&self.accounts.all(), apply),
            None => apply(),
        }
    }

    /// When the configuration in force was loaded.
    pub fn config_loaded(&self) -> std::time::SystemTime {
        *lock(&self.config_loaded)
    }

    async fn accept(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let id = self.next_connection_id();
        self.stats.total_connections.inc();
        let opts = self.opts();
        let nonce = self.auth().needs_nonce().then(auth::new_nonce);
        let client = Arc::new(
            Client::new(id, addr, opts.max_pending, nonce).in_cluster(self.cluster.clone()),
        );
        // With TLS, INFO is sent around the handshake by the connection task.
        let mut plain = self.tls().is_none();
        {
            let mut clients = lock(&self.clients);
            if self.shutting_down.load(Ordering::Acquire) {
                client.close(CloseReason::ServerShutdown, false);
            } else if clients.len() >= opts.max_connections {
                plain = true;
                client.send_now(&self.info_for(&client));
                error!("{} - {}", client.tag, errors::MAX_CONNECTIONS_EXCEEDED);
                client.err_and_close(
                    errors::MAX_CONNECTIONS_EXCEEDED,
                    CloseReason::MaxConnectionsExceeded,
                );
            } else {
                clients.insert(id, client.clone());
                if plain {
                    client.send_now(&self.info_for(&client));
                }
            }
        }
        debug!("{} - Client connection created", client.tag);
        tokio::spawn(crate::client::serve(self.clone(), client, stream, plain));
    }
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    shared: Arc<ServerShared>,
    addr: SocketAddr,
    accept_task: AsyncMutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Binds the client port and starts accepting connections.
    pub async fn start(opts: Options) -> io::Result<Server> {
        let listener = TcpListener::bind((opts.host.as_str(), opts.bind_port())).await?;
        let addr = listener.local_addr()?;
        let id = new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let mut trust = match &opts.auth.trust {
            Some(t) => Some(crate::auth::trust::Trust::load(t).map_err(io::Error::other)?),
            None => None,
        };
        let mut configs = account_configs(&opts);
        if let Some(trust) = &trust {
            configs.extend(trust.account_configs());
            if let Some(sys) = &trust.system_account {
                crate::accounts::add_system_imports(&mut configs, sys);
            }
        }
        let accounts = Accounts::new(&configs).map_err(io::Error::other)?;
        if let Some(trust) = &mut trust {
            trust.attach(&accounts);
        }
        let trust = trust.map(Arc::new);
        let plan = accounts.plan(&configs).map_err(io::Error::other)?;
        let tls = match &opts.tls {
            Some(t) => Some(Arc::new((
                t.clone(),
                crate::tls::acceptor(t).map_err(io::Error::other)?,
            ))),
            None => None,
        };
        let auth = Authenticator::new(&opts.auth, &plan, opts.tls.as_ref(), trust);
        drop(plan);
        let info = ServerInfo {
            server_id: id.clone(),
            server_name: name.clone(),
            version: COMPATIBLE_VERSION.into(),
            proto: 1,
            go: format!("rnats {VERSION}"),
            headers: true,
            jetstream: opts.jetstream.is_some(),
            domain: opts.jetstream.as_ref().and_then(|js| js.domain.clone()),
            ..ServerInfo::default()
        };
        let info = info_template(info, &opts, addr.port(), &auth).map_err(io::Error::other)?;
        info!("Starting rnats-server");
        info!(
            "  Version:  {} (nats-server {} compatible)",
            VERSION, COMPATIBLE_VERSION
        );
        info!("  Name:     {}", name);
        info!("  ID:       {}", id);
        if let Some(trust) = auth.trust() {
            trust.log_start();
        }
        if opts.max_payload > 8 * 1024 * 1024 {
            warn!(
                "Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance"
            );
        }
        let cluster = match opts.cluster.clone() {
            Some(c) => Some(Arc::new(
                crate::route::Cluster::new(c, id.clone()).map_err(io::Error::other)?,
            )),
            None => None,
        };
        let shared = Arc::new(ServerShared {
            system: crate::system::SystemClient::new(cluster.clone()),
            system_local: crate::system::SystemClient::new(None),
            cluster,
            opts: RwLock::new(Arc::new(opts)),
            id,
            name,
            accounts,
            auth: RwLock::new(Arc::new(auth)),
            auth_generation: AtomicU64::new(0),
            settings_generation: AtomicU64::new(0),
            tls: RwLock::new(tls),
            info: RwLock::new(Arc::new(info)),
            clients: std::sync::Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            lame_duck: AtomicBool::new(false),
            all_clients_gone: Notify::new(),
            stats: crate::stats::ServerStats::default(),
            closed: crate::connection::closed::ClosedRing::new(
                crate::connection::closed::DEFAULT_MAX_CLOSED,
            ),
            started: std::time::SystemTime::now(),
            config_loaded: std::sync::Mutex::new(std::time::SystemTime::now()),
            http_requests: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            monitor_addrs: std::sync::OnceLock::new(),
            jetstream: std::sync::OnceLock::new(),
            jwt_wiring: std::sync::Mutex::new(()),
        });
        if let Some(trust) = shared.auth().trust() {
            let weak = Arc::downgrade(&shared);
            trust.on_claims(Box::new(move |_| {
                if let Some(shared) = weak.upgrade() {
                    shared.rewire_jwt_accounts();
                }
            }));
        }
        if let Some(trust) = shared.auth().trust()
            && let Some(sys) = trust.system_account()
        {
            let ident = crate::system::ServerIdent {
                id: shared.id.clone(),
                name: shared.name.clone(),
                host: shared.opts().host.clone(),
                version: COMPATIBLE_VERSION.into(),
            };
            let started =
                crate::system::claims::start(&shared.system, ident, trust.clone(), &sys.account);
            if let Err(e) = started {
                error!("Could not start the claims update service: {e}");
            }
        }
        crate::events::start(&shared);
        if let Some(config) = shared.opts().jetstream.clone() {
            crate::jetstream::start(&shared, config)?;
        }
        info!("Listening for client connections on {}", addr);
        if let Some(cluster) = &shared.cluster {
            crate::route::start(&shared, cluster).await?;
        }
        if shared.opts().monitor.enabled() {
            let listening = crate::monitor::start(&shared).await?;
            let _ = shared.monitor_addrs.set((listening.http, listening.https));
        }
        let accept_task = tokio::spawn(accept_loop(shared.clone(), listener));
        info!("Server is ready");
        Ok(Server {
            shared,
            addr,
            accept_task: AsyncMutex::new(Some(accept_task)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://host:port` for clients, with loopback for a wildcard address.
    pub fn client_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.addr.ip().to_string()
        };
        format!("nats://{}:{}", ip, self.addr.port())
    }

    /// Where HTTP monitoring listens, when on.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.shared.monitor_addrs().0
    }

    /// Where HTTPS monitoring listens, when on.
    pub fn monitor_tls_addr(&self) -> Option<SocketAddr> {
        self.shared.monitor_addrs().1
    }

    /// Where routes are accepted, when clustered.
    pub fn cluster_addr(&self) -> Option<SocketAddr> {
        self.shared.cluster.as_ref().and_then(|c| c.listen_addr())
    }

    pub fn shared(&self) -> &Arc<ServerShared> {
        &self.shared
    }

    /// Applies a reloaded configuration (SIGHUP, `--signal reload`), as
    /// nats-server does. Everything is checked first: a setting that cannot
    /// change on a running server (see [`crate::server::reload`]), a bad import or
    /// a TLS certificate that does not load refuses the whole reload and
    /// nothing changes. Then the new login rules, accounts, limits and TLS
    /// settings are swapped in whole, and every connected client is told:
    /// each checks its login against the new rules (a user that is gone or
    /// moved account is closed, a wrong password gets `Authorization
    /// Violation`, subscriptions now denied are removed) and re-reads its
    /// limits. A lowered `max_connections` closes the newest clients over
    /// it. TLS and clustering cannot be turned on or off this way.
    pub fn reload(&self, opts: &Options) -> Result<(), String> {
        let shared = &self.shared;
        let old = shared.opts();
        crate::server::reload::refused(&old, opts)?;
        let cluster = match (&shared.cluster, &opts.cluster) {
            (Some(cluster), Some(new)) => Some((cluster, new, cluster.prepare_reload(new)?)),
            (None, None) => None,
            _ => {
                return Err(
                    "clustering cannot be turned on or off by a reload; restart the server".into(),
                );
            }
        };
        let tls = match (shared.tls().is_some(), &opts.tls) {
            (true, Some(new)) => {
                let acceptor = crate::tls::acceptor(new).map_err(|e| e.to_string())?;
                Some(Arc::new((new.clone(), acceptor)))
            }
            (false, None) => None,
            _ => {
                return Err(
                    "TLS cannot be turned on or off by a reload; restart the server".into(),
                );
            }
        };
        let current_auth = shared.auth();
        let trust = current_auth.trust().cloned();
        // Operator mode has no `accounts {}` block: its accounts come from
        // JWTs and stay as they are.
        let plan = shared.accounts.plan(&account_configs(opts))?;
        let auth = Authenticator::new(&opts.auth, &plan, opts.tls.as_ref(), trust.clone())
            .keep_login_cache_of(&current_auth);
        let info = info_template(
            (**read_lock(&shared.info)).clone(),
            opts,
            self.addr.port(),
            &auth,
        )?;

        // Checked: from here on everything applies.
        if let Some(tls) = tls {
            if old.tls != opts.tls {
                info!("Reloaded: tls = enabled");
            }
            *write_lock(&shared.tls) = Some(tls);
        }
        if let Some((cluster, new, route_tls)) = cluster {
            cluster.apply_reload(shared, new, route_tls);
        }
        for line in crate::server::reload::report(&old, opts) {
            info!("{line}");
        }
        if let Some(trust) = &trust {
            reload_preloaded_accounts(trust, &old, opts);
        } else {
            for gone in shared.rewire_accounts(|| shared.accounts.apply(plan)) {
                debug!("Reloaded: account {:?} removed", gone.name);
            }
        }
        *write_lock(&shared.auth) = Arc::new(auth);
        *write_lock(&shared.info) = Arc::new(info);
        *write_lock(&shared.opts) = Arc::new(opts.clone());
        if crate::server::reload::auth_changed(&old, opts) {
            shared.auth_generation.fetch_add(1, Ordering::AcqRel);
        }
        shared.settings_generation.fetch_add(1, Ordering::AcqRel);
        let mut clients: Vec<_> = lock(&shared.clients).values().cloned().collect();
        if clients.len() > opts.max_connections {
            // The newest go first: the longest-standing keep their place.
            clients.sort_by_key(|c| std::cmp::Reverse(c.id));
            let over = clients.len() - opts.max_connections;
            for client in clients.drain(..over) {
                client.err_and_close(
                    errors::MAX_CONNECTIONS_EXCEEDED,
                    CloseReason::MaxConnectionsExceeded,
                );
            }
            info!("Closed {over} connections to fall within max_connections");
        }
        for client in &clients {
            client.settings_reloaded(opts.max_pending);
        }
        *lock(&shared.config_loaded) = std::time::SystemTime::now();
        info!("Reloaded server configuration");
        Ok(())
    }

    /// Lame duck mode (SIGUSR2), as nats-server has it, to take a server
    /// out of service without a reconnect storm: it stops accepting
    /// clients, tells its routes (`"ldm":true`, so peers stop advertising
    /// it) and its clients (an INFO with `"ldm":true` and the other
    /// servers' URLs only), waits `lame_duck_grace_period`, then closes
    /// the clients one by one over the rest of `lame_duck_duration`, and
    /// shuts down. With no clients it shuts down at once. Dropping the
    /// future stops the drain; [`Server::shutdown`] still finishes it.
    pub async fn lame_duck(&self) {
        let shared = &self.shared;
        if shared.shutting_down.load(Ordering::Acquire)
            || shared.lame_duck.swap(true, Ordering::AcqRel)
        {
            return;
        }
        info!("Entering lame duck mode, stop accepting new clients");
        if let Some(task) = self.accept_task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        let clients: Vec<_> = lock(&shared.clients).values().cloned().collect();
        if clients.is_empty() {
            self.shutdown().await;
            return;
        }
        if let Some(cluster) = &shared.cluster {
            cluster.announce_lame_duck(shared);
        }
        for client in &clients {
            if client.async_info.load(Ordering::Acquire) {
                client.send_now(&shared.info_line(client, true));
            }
        }
        let opts = shared.opts();
        tokio::time::sleep(opts.lame_duck_grace_period).await;
        info!("Closing existing clients");
        // Spread over what is left of the duration (at least 1 s), at most
        // 1 s apart, each pause random in its upper half, as nats-server.
        let left = opts
            .lame_duck_duration
            .saturating_sub(opts.lame_duck_grace_period)
            .max(Duration::from_secs(1));
        let count = u32::try_from(clients.len()).unwrap_or(u32::MAX);
        let interval = (left / count).min(Duration::from_secs(1));
        for (i, client) in clients.iter().enumerate() {
            client.close(CloseReason::ServerShutdown, true);
            if i + 1 < clients.len() {
                let pause = rand::rng().random_range(interval / 2..=interval);
                tokio::time::sleep(pause).await;
            }
        }
        self.shutdown().await;
    }

    /// Stops accepting, flushes what is queued for every client, closes
    /// them, and waits (bounded by the write deadline) for them to go.
    pub async fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        info!("Initiating Shutdown...");
        if let Some(js) = self.shared.jetstream.get() {
            js.shutdown();
        }
        self.shared.system.close();
        self.shared.system_local.close();
        if let Some(task) = self.accept_task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(cluster) = &self.shared.cluster {
            cluster.shutdown();
        }
        let clients: Vec<_> = lock(&self.shared.clients).values().cloned().collect();
        for client in &clients {
            client.close(CloseReason::ServerShutdown, true);
        }
        let deadline = tokio::time::Instant::now() + self.shared.opts().write_deadline;
        loop {
            let gone = self.shared.all_clients_gone.notified();
            if self.shared.client_count() == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, gone).await.is_err() {
                break;
            }
        }
        info!("Server Exiting..");
    }
}

async fn accept_loop(shared: Arc<ServerShared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => shared.accept(stream, addr).await,
            Err(e) => {
                // Out of file descriptors and the like: wait, don't spin.
                error!("Error accepting client connection: {}", e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The accounts of the configuration, with the system account added when
/// it is not configured (as nats-server creates `$SYS`; operator mode has
/// its system account among the account JWTs instead), and the top-level
/// `mappings` as the global account's (nats-server, too, keeps them as an
/// account `$G`).
fn account_configs(opts: &Options) -> Vec<crate::options::AccountConfig> {
    let mut configs = opts.auth.accounts.clone();
    if opts.auth.trust.is_none()
        && let Some(name) = &opts.system_account
        && !configs.iter().any(|c| &c.name == name)
    {
        configs.push(crate::options::AccountConfig {
            name: name.clone(),
            ..Default::default()
        });
    }
    if !opts.mappings.is_empty() {
        configs.push(crate::options::AccountConfig {
            name: crate::accounts::GLOBAL_ACCOUNT.into(),
            mappings: opts.mappings.clone(),
            ..Default::default()
        });
    }
    if opts.auth.trust.is_none()
        && let Some(sys) = &opts.system_account
    {
        crate::accounts::add_system_imports(&mut configs, sys);
    }
    configs
}

/// `resolver_preload` changed: new and changed account JWTs are applied
/// as a claims update would apply them. An account no longer preloaded
/// stays until restart (its users may still be connected).
fn reload_preloaded_accounts(trust: &crate::auth::trust::Trust, old: &Options, new: &Options) {
    let preload = |o: &Options| o.auth.trust.as_ref().map(|t| t.preload.clone());
    let (Some(old), Some(new)) = (preload(old), preload(new)) else {
        return;
    };
    for (key, jwt) in &new {
        if old.iter().any(|(k, j)| k == key && j == jwt) {
            continue;
        }
        match trust.update(jwt) {
            Ok(_) => info!("Reloaded: account {key} updated"),
            Err(e) => error!("Reloaded: account {key} not updated: {e}"),
        }
    }
}

/// INFO's settings that follow the configuration (a reload recomputes
/// them): the host and port clients are told, the payload limit, and
/// whether credentials and TLS are required.
fn info_template(
    mut info: ServerInfo,
    opts: &Options,
    bound_port: u16,
    auth: &Authenticator,
) -> Result<ServerInfo, String> {
    (info.host, info.port) = match opts.client_advertise.as_deref().filter(|a| !a.is_empty()) {
        Some(advertise) => advertised_host_port(advertise, bound_port).map_err(|why| {
            format!(
                "Error setting server INFO with ClientAdvertise value of {advertise}, err={why}"
            )
        })?,
        None => (opts.host.clone(), bound_port),
    };
    info.max_payload = opts.max_payload;
    info.auth_required = auth.required();
    info.tls_required = opts.tls.is_some();
    info.tls_verify = opts.tls.as_ref().is_some_and(|t| t.verifies_clients());
    Ok(info)
}

/// A server id in the shape of nats-server's (an NKey-like 56 characters
/// of base32 starting with N).
fn new_server_id() -> String {
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(BASE32[rng.random_range(0..BASE32.len())] as char);
    }
    id
}

/// `client_advertise`: `host:port`, or a host alone with the client port
/// (as nats-server reads it; an IPv6 address with a port in brackets).
fn advertised_host_port(advertise: &str, client_port: u16) -> Result<(String, u16), String> {
    let advertise = advertise.trim();
    if let Some((host, port)) = crate::options::split_host_port(advertise) {
        let port = port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid port {port:?}"))?;
        return Ok((host.trim().to_string(), port));
    }
    let host = match advertise.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .ok_or_else(|| format!("address {advertise}: missing ']' in address"))?,
        None if advertise.contains(':') => {
            return Err(format!("address {advertise}: too many colons in address"));
        }
        None => advertise,
    };
    Ok((host.to_string(), client_port))
}

#[cfg(test)]
mod tests {
    use super::advertised_host_port;

    #[test]
    fn client_advertise_is_host_and_port_or_a_host_alone() {
        let parse = |a: &str| advertised_host_port(a, 4222);
        assert_eq!(parse("10.0.0.1:4333"), Ok(("10.0.0.1".into(), 4333)));
        assert_eq!(
            parse("nats.example.com"),
            Ok(("nats.example.com".into(), 4222))
        );
        assert_eq!(parse("[::1]:4333"), Ok(("::1".into(), 4333)));
        assert_eq!(parse("[::1]"), Ok(("::1".into(), 4222)));
        assert!(parse("h:bar").unwrap_err().contains("invalid port"));
        assert!(parse("nats://h:1").unwrap_err().contains("too many colons"));
    }
}

//! The server: state shared by every connection ([`ServerShared`]), the
//! accept loop, and the handle that starts and stops it all ([`Server`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use rnats_proto::errors;
use rnats_proto::messages::ServerInfo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex as AsyncMutex, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::account::Accounts;
use crate::auth::{self, Authenticator};
use crate::client::{self, Client, CloseReason, lock};
use crate::options::Options;
use crate::tls::TlsOptions;
use tokio_rustls::TlsAcceptor;

/// The NATS server version whose protocol and behaviour rnats matches.
/// Clients read it from INFO to decide which features they may use.
pub const COMPATIBLE_VERSION: &str = "2.9.10";
/// rnats's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// State every connection shares.
pub struct ServerShared {
    pub opts: Options,
    pub id: String,
    pub name: String,
    pub accounts: Accounts,
    pub auth: Authenticator,
    /// TLS for clients; a reload (SIGHUP) swaps in new certificates.
    tls: std::sync::RwLock<Option<Arc<TlsSetup>>>,
    /// This server's side of its cluster, when clustered.
    pub cluster: Option<Arc<crate::route::Cluster>>,
    info: ServerInfo,
    clients: std::sync::Mutex<HashMap<u64, Arc<Client>>>,
    next_client_id: AtomicU64,
    shutting_down: AtomicBool,
    /// In lame duck mode: no new clients, and this server's own client
    /// URLs are no longer advertised.
    lame_duck: AtomicBool,
    all_clients_gone: Notify,
}

/// The TLS options in force and the acceptor built from them.
pub type TlsSetup = (TlsOptions, TlsAcceptor);

impl ServerShared {
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
        let mut info = self.info.clone();
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
        self.info.port
    }

    /// The host clients are told to connect to: `client_advertise`'s, or
    /// the listen address.
    pub fn client_host(&self) -> &str {
        &self.info.host
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

    async fn accept(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let nonce = self.auth.needs_nonce().then(auth::new_nonce);
        let client = Arc::new(
            Client::new(id, addr, self.opts.max_pending, nonce).in_cluster(self.cluster.clone()),
        );
        // With TLS, INFO is sent around the handshake by the connection task.
        let mut plain = self.tls().is_none();
        {
            let mut clients = lock(&self.clients);
            if self.shutting_down.load(Ordering::Acquire) {
                client.close(CloseReason::ServerShutdown, false);
            } else if clients.len() >= self.opts.max_connections {
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
        tokio::spawn(client::serve(self.clone(), client, stream, plain));
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
            Some(t) => Some(crate::trust::Trust::load(t).map_err(io::Error::other)?),
            None => None,
        };
        let accounts = match &trust {
            Some(trust) => {
                let mut all = opts.auth.accounts.clone();
                all.extend(trust.account_configs());
                Accounts::new(&all)
            }
            None => Accounts::new(&opts.auth.accounts),
        }
        .map_err(io::Error::other)?;
        if let Some(trust) = &mut trust {
            trust.attach(&accounts);
        }
        let trust = trust.map(Arc::new);
        let tls = match &opts.tls {
            Some(t) => Some(Arc::new((
                t.clone(),
                crate::tls::acceptor(t).map_err(io::Error::other)?,
            ))),
            None => None,
        };
        let auth = Authenticator::new(&opts.auth, &accounts, opts.tls.as_ref(), trust);
        let (host, port) = match opts.client_advertise.as_deref().filter(|a| !a.is_empty()) {
            Some(advertise) => advertised_host_port(advertise, addr.port()).map_err(|why| {
                io::Error::other(format!(
                    "Error setting server INFO with ClientAdvertise value of {advertise}, err={why}"
                ))
            })?,
            None => (opts.host.clone(), addr.port()),
        };
        let info = ServerInfo {
            server_id: id.clone(),
            server_name: name.clone(),
            version: COMPATIBLE_VERSION.into(),
            proto: 1,
            go: format!("rnats {VERSION}"),
            host,
            port,
            headers: true,
            max_payload: opts.max_payload,
            auth_required: auth.required(),
            tls_required: tls.is_some(),
            tls_verify: tls.as_ref().is_some_and(|t| t.0.verifies_clients()),
            ..ServerInfo::default()
        };
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
            cluster,
            opts,
            id,
            name,
            accounts,
            auth,
            tls: std::sync::RwLock::new(tls),
            info,
            clients: std::sync::Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            lame_duck: AtomicBool::new(false),
            all_clients_gone: Notify::new(),
        });
        if let Some(trust) = shared.auth.trust() {
            trust.start_requests(
                crate::system::ServerIdent {
                    id: shared.id.clone(),
                    name: shared.name.clone(),
                    host: shared.opts.host.clone(),
                    version: COMPATIBLE_VERSION.into(),
                },
                shared.cluster.clone(),
            );
        }
        info!("Listening for client connections on {}", addr);
        if let Some(cluster) = &shared.cluster {
            crate::route::start(&shared, cluster).await?;
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

    /// Where routes are accepted, when clustered.
    pub fn cluster_addr(&self) -> Option<SocketAddr> {
        self.shared.cluster.as_ref().and_then(|c| c.listen_addr())
    }

    pub fn shared(&self) -> &Arc<ServerShared> {
        &self.shared
    }

    /// Applies a reloaded configuration (SIGHUP): new TLS certificates and
    /// settings for the connections that come next (connected clients keep
    /// theirs), an empty bcrypt login cache, and the `cluster {}` block
    /// (see [`crate::route::Cluster`]'s reload). TLS and clustering cannot
    /// be turned on or off this way, as on nats-server; other settings
    /// need a restart. Nothing is applied when anything is refused.
    pub fn reload(&self, opts: &Options) -> Result<(), String> {
        let cluster = match (&self.shared.cluster, &opts.cluster) {
            (Some(cluster), Some(new)) => Some((cluster, new, cluster.prepare_reload(new)?)),
            (None, None) => None,
            _ => {
                return Err(
                    "clustering cannot be turned on or off by a reload; restart the server".into(),
                );
            }
        };
        let mut tls = self.shared.tls.write().unwrap_or_else(|e| e.into_inner());
        match (&*tls, &opts.tls) {
            (Some(_), Some(new)) => {
                let acceptor = crate::tls::acceptor(new).map_err(|e| e.to_string())?;
                *tls = Some(Arc::new((new.clone(), acceptor)));
                info!("Reloaded: TLS certificates and settings");
            }
            (None, None) => {}
            _ => {
                return Err(
                    "TLS cannot be turned on or off by a reload; restart the server".into(),
                );
            }
        }
        drop(tls);
        if let Some((cluster, new, route_tls)) = cluster {
            cluster.apply_reload(&self.shared, new, route_tls);
        }
        self.shared.auth.clear_login_cache();
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
        let opts = &shared.opts;
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
        if let Some(trust) = self.shared.auth.trust() {
            trust.stop_requests();
        }
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
        let deadline = tokio::time::Instant::now() + self.shared.opts.write_deadline;
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

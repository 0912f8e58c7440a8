//! Route connections: dialling configured and gossiped routes (with
//! retries), the TLS handshake that comes first on TLS routes, and the
//! start of the route protocol (CONNECT, INFO) before the session runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rnats_proto::route::RouteConnect;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};
use tracing::{debug, error, info};

use crate::connection::Client;
use crate::server::ServerShared;
use crate::sync::lock;
use crate::tls::RouteTls;

use super::session::RouteSession;
use super::{Cluster, RouteUrl};

/// Reconnect delays for solicited routes: from the first to the longest.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// Keeps a route to `url` connected: retried with backoff for as long as
/// the server runs (explicit routes), or, as nats-server does for
/// implicit routes, tried once more than `connect_retries` each time it
/// is not connected.
pub(super) async fn solicit(
    shared: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    url: RouteUrl,
    explicit: bool,
) {
    let mut delay = FIRST_RETRY;
    let mut attempts: u32 = 0;
    let mut was_connected = false;
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
                        was_connected = true;
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
                attempts += 1;
                // As nats-server: the first failure is an error, then one
                // in `connect_error_reports` (before a first connection) or
                // `reconnect_error_reports` (after one).
                let every = if was_connected {
                    shared.opts().reconnect_error_reports
                } else {
                    shared.opts().connect_error_reports
                };
                let report = attempts == 1 || attempts.is_multiple_of(every.max(1));
                if report {
                    error!(
                        "Error trying to connect to route (attempt {attempts}): dial tcp {addr}: {e}"
                    );
                } else {
                    debug!(
                        "Error trying to connect to route (attempt {attempts}): dial tcp {addr}: {e}"
                    );
                }
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
pub(super) enum Outcome {
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
pub(super) async fn run_route(
    shared: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    mut stream: TcpStream,
    peer: SocketAddr,
    solicited: Option<&RouteUrl>,
) -> Outcome {
    let id = shared.next_connection_id();
    let client = Arc::new(Client::new(id, peer, shared.opts().max_pending, None).into_route());
    match cluster.tls() {
        None => {
            let (reader, writer) = stream.split();
            serve_route(
                &shared,
                &cluster,
                &client,
                solicited,
                Vec::new(),
                reader,
                writer,
            )
            .await
        }
        // Boxed: the TLS state is large, and plain routes need not carry it.
        Some(tls) => {
            Box::pin(async {
                let Some(stream) =
                    route_handshake(&tls, &cluster, &client, stream, solicited).await
                else {
                    return Outcome::Failed;
                };
                let identities = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(crate::tls::certificate_identities)
                    .unwrap_or_default();
                let (reader, writer) = tokio::io::split(stream);
                serve_route(
                    &shared, &cluster, &client, solicited, identities, reader, writer,
                )
                .await
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
                if stream.peek(&mut first).await? == 1
                    && first[0] != crate::tls::TLS_HANDSHAKE_RECORD
                {
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
/// handshake, if any, whose peer certificate offered `cert_identities`):
/// CONNECT (when solicited) and INFO out, then the reader and the writer
/// until the connection ends.
async fn serve_route<R, W>(
    shared: &Arc<ServerShared>,
    cluster: &Arc<Cluster>,
    client: &Arc<Client>,
    solicited: Option<&RouteUrl>,
    cert_identities: Vec<String>,
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
            dynamic: cluster.is_dynamic(),
            lnoc: true,
            lang: None,
        };
        hello.extend(connect.to_protocol_line());
        debug!("{} - Route connect msg sent", client.tag);
    }
    hello.extend(cluster.route_info(shared).to_protocol_line());
    client.send_now(&hello);
    info!("{} - Route connection created", client.tag);
    let mut session = RouteSession::new(shared, cluster, client, solicited, cert_identities);
    let ((), ()) = tokio::join!(
        session.run(reader),
        crate::connection::writer::write_loop(shared, client, writer)
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

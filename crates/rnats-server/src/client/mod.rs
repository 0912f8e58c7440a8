//! The client role: accepting a client connection (the TLS upgrade as
//! nats-server does it, INFO), then its protocol in [`session`] on the
//! connection core of [`crate::connection`].
//!
//! **Owns**: everything about a connection that is a client's: INFO, the
//! TLS upgrade, CONNECT and login, PUB/SUB/UNSUB, permissions per message,
//! reload checks of a connected client (`session`).
//! **May not touch**: other connections' state except through the
//! connection core (`connection::Client::enqueue` via `connection::delivery`).

pub mod session;

use std::sync::Arc;

use rnats_proto::encode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::connection::Client;
use crate::connection::writer::write_loop;
use crate::server::ServerShared;
use crate::tls::TlsOptions;
use session::Session;

/// Serves one accepted connection until it ends. Over plain TCP the INFO
/// line is already queued; with TLS it is sent here, around the handshake.
pub async fn serve(
    server: Arc<ServerShared>,
    client: Arc<Client>,
    mut stream: TcpStream,
    plain: bool,
) {
    match server.tls() {
        // Boxed: the TLS state is large, and plain connections (most, and
        // every idle one) should not carry its room in their task.
        Some(tls) if !plain => Box::pin(serve_tls(&server, &client, stream, &tls)).await,
        _ => {
            let (reader, writer) = stream.split();
            let session = Session::new(server.clone(), client.clone(), Vec::new());
            tokio::join!(session.run(reader), write_loop(&server, &client, writer));
        }
    }
    server.remove_client(&client);
}

async fn serve_tls(
    server: &Arc<ServerShared>,
    client: &Arc<Client>,
    stream: TcpStream,
    (opts, acceptor): &crate::server::TlsSetup,
) {
    let Some(stream) = start_tls(server, opts, acceptor, client, stream).await else {
        tracing::debug!(
            "{} - Client connection closed: TLS Handshake Failure",
            client.tag
        );
        return;
    };
    let tls = stream.get_ref().1;
    if let (Some(version), Some(suite)) = (tls.protocol_version(), tls.negotiated_cipher_suite()) {
        let _ = client.tls.set(crate::tls::go_names(version, suite.suite()));
    }
    let identities = match (&opts.verify_and_map, stream.get_ref().1.peer_certificates()) {
        (true, Some([cert, ..])) => crate::tls::certificate_identities(cert),
        _ => Vec::new(),
    };
    let (reader, writer) = tokio::io::split(stream);
    let session = Session::new(server.clone(), client.clone(), identities);
    tokio::join!(session.run(reader), write_loop(server, client, writer));
}

/// The TLS upgrade as nats-server does it: INFO in plain text, then the
/// client's handshake (or, with `handshake_first`, the handshake first and
/// INFO inside it). A client that answers INFO in plain text is told TLS
/// is required.
async fn start_tls(
    server: &ServerShared,
    opts: &TlsOptions,
    acceptor: &TlsAcceptor,
    client: &Client,
    mut stream: TcpStream,
) -> Option<TlsStream<TcpStream>> {
    let tag = &client.tag;
    tracing::debug!("{tag} - Starting TLS client connection handshake");
    if !opts.handshake_first {
        stream.write_all(&server.info_for(client)).await.ok()?;
        let mut first = [0u8; 1];
        match timeout(opts.timeout(), stream.peek(&mut first)).await {
            Ok(Ok(1)) if first[0] == crate::tls::TLS_HANDSHAKE_RECORD => {}
            Ok(Ok(1)) => {
                tracing::error!("{tag} - TLS handshake error: the client did not start TLS");
                let mut err = bytes::BytesMut::new();
                encode::err(
                    &mut err,
                    rnats_proto::errors::SECURE_CONNECTION_TLS_REQUIRED,
                );
                let _ = stream.write_all(&err).await;
                // Take in what the client already sent, so that closing
                // does not reset the connection before it reads the -ERR.
                let mut discard = [0u8; 4096];
                while matches!(stream.try_read(&mut discard), Ok(n) if n > 0) {}
                let _ = stream.shutdown().await;
                return None;
            }
            Ok(_) => return None,
            Err(_) => {
                tracing::error!("{tag} - TLS handshake timeout");
                return None;
            }
        }
    }
    let stream = match timeout(opts.timeout(), acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::error!("{tag} - TLS handshake error: {e}");
            return None;
        }
        Err(_) => {
            tracing::error!("{tag} - TLS handshake timeout");
            return None;
        }
    };
    let session = stream.get_ref().1;
    tracing::debug!("{tag} - TLS handshake complete");
    if let Some(negotiated) = crate::tls::describe_session(session) {
        tracing::debug!("{tag} - {negotiated}");
    }
    if !crate::tls::pinned_cert_ok(opts, session.peer_certificates()) {
        tracing::error!("{tag} - Peer certificate is not one of the pinned certificates");
        return None;
    }
    if opts.handshake_first {
        client.send_now(&server.info_for(client));
    }
    Some(stream)
}

//! TLS for the benchmark client: a rustls client over the same blocking
//! socket, upgraded after the server's plain-text `INFO` (as every NATS
//! client does), trusting the CA given with `--tls-ca`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::BenchError;

/// A connection's socket: plain, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while the socket moves from plain to TLS.
    Upgrading,
}

impl Stream {
    fn socket(&self) -> io::Result<&TcpStream> {
        match self {
            Stream::Plain(s) => Ok(s),
            Stream::Tls(s) => Ok(s.get_ref()),
            Stream::Upgrading => Err(upgrading()),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket()?.set_read_timeout(timeout)
    }

    /// Upgrades a plain connection to TLS (a no-op on a TLS one).
    pub fn start_tls(self, config: &Arc<ClientConfig>, host: &str) -> Result<Stream, BenchError> {
        let Stream::Plain(socket) = self else {
            return Ok(self);
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| BenchError::Usage(format!("bad TLS server name {host:?}: {e}")))?;
        let conn = ClientConnection::new(config.clone(), name)
            .map_err(|e| BenchError::Protocol(format!("TLS: {e}")))?;
        let mut tls = StreamOwned::new(conn, socket);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| BenchError::Protocol(format!("TLS handshake: {e}")))?;
        }
        Ok(Stream::Tls(Box::new(tls)))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Upgrading => Err(upgrading()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Upgrading => Err(upgrading()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Upgrading => Err(upgrading()),
        }
    }
}

fn upgrading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection is being upgraded to TLS",
    )
}

/// A client configuration trusting the CA certificates in `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, BenchError> {
    let bad = |e: &dyn std::fmt::Display| {
        BenchError::Usage(format!("--tls-ca {}: {e}", ca_file.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

//! The one HTTP request `rnats top` makes: `GET path` from a monitoring port, as HTTP/1.0
//! over a `TcpStream` with timeouts, or over rustls for an HTTPS port.
//!
//! Why not an HTTP crate: two small GETs a refresh to a server we name, no redirects, no
//! keep-alive. An HTTP/1.0 request makes the server close the connection after the answer
//! and forbids a chunked body (still decoded here, should a server send one anyway), so the
//! whole client is: write the request, read to the end (bounded), split the head from the
//! body. That is less code to trust than a client crate's dependency tree; TLS is the
//! rustls the tool already has.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::keys::Result;

/// Where the monitoring port is, and the TLS configuration if it is an HTTPS port.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// The server's `http_base_path` (empty, or starting with `/`), before every path.
    pub base_path: String,
    pub tls: Option<Arc<ClientConfig>>,
}

/// Whose certificates an HTTPS port may show.
pub enum Trust<'a> {
    /// Signed by a CA the system trusts.
    System,
    /// Signed by the CA certificates in this file (PEM).
    Ca(&'a Path),
    /// Any certificate, unverified (`-k`).
    Anyone,
}

/// A TLS client configuration trusting `trust`; presenting `cert` and `key` (PEM) when
/// given.
pub fn tls_config(trust: Trust<'_>, cert_key: Option<(&Path, &Path)>) -> Result<Arc<ClientConfig>> {
    let bad = |path: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match trust {
        Trust::Anyone => {}
        Trust::Ca(ca) => {
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(ca, &e))? {
                roots
                    .add(cert.map_err(|e| bad(ca, &e))?)
                    .map_err(|e| bad(ca, &e))?;
            }
        }
        Trust::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no trusted CA certificates found on this system; give --tlsca".into());
            }
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match trust {
        Trust::Anyone => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider))),
        _ => builder.with_root_certificates(roots),
    };
    let config = match cert_key {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad(cert, &e))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| bad(cert, &e))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| bad(cert, &e))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Takes any certificate the server shows (`-k`); still checks that the handshake is
/// signed by the key of the certificate shown, so only the certificate's issuer goes
/// unverified.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The most an answer may be: `/connz` of many thousands of connections fits well.
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// `GET http(s)://host:port/path`: the body of a `200 OK`, or what went wrong.
pub fn get(endpoint: &Endpoint, path: &str, timeout: Duration) -> Result<Vec<u8>> {
    let (host, port) = (endpoint.host.as_str(), endpoint.port);
    let path = format!("{}{path}", endpoint.base_path);
    let scheme = if endpoint.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{}{path}", authority(host, port));
    let fail = |e: std::io::Error| format!("could not get {url}: {e}");
    let addrs = (host, port).to_socket_addrs().map_err(fail)?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(fail(e)),
        (None, None) => return Err(format!("could not get {url}: {host} has no address")),
    };
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {}\r\nUser-Agent: rnats-top\r\nAccept: application/json\r\n\r\n",
        authority(host, port)
    );
    let mut answer = Vec::new();
    match &endpoint.tls {
        None => exchange(stream, &request, &mut answer).map_err(fail)?,
        Some(config) => {
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| format!("could not get {url}: {e}"))?;
            let conn = ClientConnection::new(config.clone(), name)
                .map_err(|e| format!("could not get {url}: {e}"))?;
            let tls = StreamOwned::new(conn, stream);
            match exchange(tls, &request, &mut answer) {
                Ok(()) => {}
                // A server that closes without TLS's close_notify: what came is checked below
                // (its Content-Length), so a cut answer is still caught.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }
    if answer.len() as u64 > MAX_ANSWER {
        return Err(format!(
            "could not get {url}: the answer is over {MAX_ANSWER} bytes"
        ));
    }
    body(&answer).map_err(|e| format!("{url}: {e}"))
}

/// Writes the request and reads the answer to its end (at most one byte past the limit).
fn exchange(
    mut stream: impl Read + Write,
    request: &str,
    answer: &mut Vec<u8>,
) -> std::io::Result<()> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    stream.take(MAX_ANSWER + 1).read_to_end(answer)?;
    Ok(())
}

/// `host:port`, with brackets around an IPv6 address.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The body of a whole HTTP answer, if its status is 200.
fn body(answer: &[u8]) -> Result<Vec<u8>> {
    let end = memchr::memmem::find(answer, b"\r\n\r\n")
        .ok_or("the answer is not HTTP (no end of headers)")?;
    let head = std::str::from_utf8(&answer[..end]).map_err(|_| "the HTTP head is not text")?;
    let body = &answer[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next());
    let code: u16 = match code.map(str::parse) {
        Some(Ok(code)) if version.starts_with("HTTP/") => code,
        _ => return Err(format!("the answer is not HTTP: {status_line:?}")),
    };
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(length) = length {
        body.get(..length)
            .ok_or_else(|| format!("the answer ended after {} of {length} bytes", body.len()))?
            .to_vec()
    } else {
        body.to_vec()
    };
    if code != 200 {
        let text = String::from_utf8_lossy(&body);
        let first = text.lines().next().unwrap_or_default();
        let first: String = first.chars().take(80).collect();
        return Err(format!("stats request failed {code}: {first:?}"));
    }
    Ok(body)
}

/// A chunked body put back together.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = memchr::memmem::find(data, b"\r\n").ok_or("a chunk size is cut short")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("a chunk is cut short")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("a chunk is cut short")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_split() {
        let ok =
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(body(ok).unwrap(), b"{}");
        let no_length = b"HTTP/1.1 200 OK\r\n\r\n{\"a\":1}";
        assert_eq!(body(no_length).unwrap(), b"{\"a\":1}");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(body(chunked).unwrap(), b"abcde");
        let missing = b"HTTP/1.0 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n";
        assert_eq!(
            body(missing).unwrap_err(),
            "stats request failed 404: \"404 page not found\""
        );
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"garbage",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.0 abc OK\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nabc",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
        ] {
            assert!(body(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(authority("::1", 8222), "[::1]:8222");
    }

    proptest::proptest! {
        /// Whatever a port answers, reading it is a body or an error, never a panic; and a
        /// body sent in chunks of any sizes comes back whole.
        #[test]
        fn any_answer_is_read_safely(
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            body_bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            cuts in proptest::collection::vec(1usize..50, 0..10),
        ) {
            let _ = super::body(&head);
            let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
            answer.extend_from_slice(&head);
            let _ = super::body(&answer);

            let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let mut rest = &body_bytes[..];
            for cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
                let take = (*cut).min(rest.len());
                if take == 0 {
                    break;
                }
                chunked.extend_from_slice(format!("{take:x}\r\n").as_bytes());
                chunked.extend_from_slice(&rest[..take]);
                chunked.extend_from_slice(b"\r\n");
                rest = &rest[take..];
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            proptest::prop_assert_eq!(super::body(&chunked).unwrap(), body_bytes.clone());
            for end in 0..chunked.len() {
                let _ = super::body(&chunked[..end]);
            }
        }
    }
}

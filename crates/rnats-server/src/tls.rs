//! TLS with rustls: the `tls {}` options, building the client-facing
//! acceptor from them (nats-server's Go names for cipher suites and curves,
//! refused by name when unknown), the mutual TLS of routes ([`RouteTls`],
//! from `cluster { tls {} }`), pinned certificates, and the identities a
//! client certificate offers for `verify_and_map`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{self as provider, cipher_suite, kx_group};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The first byte of a TLS ClientHello record: how a plain-text port tells
/// a TLS client from a NATS one.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// nats-server's default TLS handshake timeout.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// The `tls {}` block (or `--tls*` flags), at the top level for clients or
/// in `cluster {}` for routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// CA certificates that client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// Like `verify`, and log the client in as the user its certificate names.
    pub verify_and_map: bool,
    /// Handshake timeout; None means [`DEFAULT_TLS_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Expect the client to start TLS before the server sends INFO.
    pub handshake_first: bool,
    /// `"1.2"` or `"1.3"`.
    pub min_version: Option<String>,
    /// Go names, e.g. `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`.
    pub cipher_suites: Vec<String>,
    /// Go names: `X25519`, `CurveP256`, `CurveP384`.
    pub curve_preferences: Vec<String>,
    /// Hex SHA-256 of the peer certificate's SubjectPublicKeyInfo.
    pub pinned_certs: Vec<String>,
    /// Do not verify the certificate of a server this one connects to
    /// (solicited routes). Nothing for the client-facing block, which only
    /// accepts connections: there it is taken and ignored, as nats-server
    /// does.
    pub insecure: bool,
}

impl TlsOptions {
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT)
    }

    pub fn verifies_clients(&self) -> bool {
        self.verify || self.verify_and_map
    }
}

/// Why a TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("tls: cert_file and key_file are both required")]
    MissingCertOrKey,
    #[error("tls: cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("tls: {0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("tls: verify requires ca_file")]
    VerifyWithoutCa,
    #[error("cluster tls requires ca_file (routes always verify each other's certificates)")]
    ClusterWithoutCa,
    #[error("tls: cipher suite {0:?} is not supported")]
    UnknownCipherSuite(String),
    #[error("tls: curve {0:?} is not supported")]
    UnknownCurve(String),
    #[error("tls: min_version {0:?} is not supported (use \"1.2\" or \"1.3\")")]
    UnknownVersion(String),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// A negotiated version and cipher suite in Go's words, as nats-server's
/// monitoring shows them: `("1.3", "TLS_AES_128_GCM_SHA256")`.
pub fn go_names(version: rustls::ProtocolVersion, suite: rustls::CipherSuite) -> (String, String) {
    let version = match version {
        rustls::ProtocolVersion::TLSv1_3 => "1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "1.2".to_string(),
        other => format!("{other:?}"),
    };
    let suite = format!("{suite:?}");
    let suite = match suite.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => suite,
    };
    (version, suite)
}

fn cipher_suite_by_go_name(name: &str) -> Option<SupportedCipherSuite> {
    Some(
        match name.trim_end_matches("_SHA256").trim_end_matches("_SHA384") {
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM" => {
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            }
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM" => {
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            }
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            }
            "TLS_ECDHE_RSA_WITH_AES_256_GCM" => cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            "TLS_ECDHE_RSA_WITH_AES_128_GCM" => cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
                cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            }
            "TLS_AES_128_GCM" => cipher_suite::TLS13_AES_128_GCM_SHA256,
            "TLS_AES_256_GCM" => cipher_suite::TLS13_AES_256_GCM_SHA384,
            "TLS_CHACHA20_POLY1305" => cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            _ => return None,
        },
    )
}

fn provider_for(opts: &TlsOptions) -> Result<CryptoProvider, TlsConfigError> {
    let mut p = provider::default_provider();
    if !opts.cipher_suites.is_empty() {
        let mut suites = opts
            .cipher_suites
            .iter()
            .map(|n| {
                cipher_suite_by_go_name(n)
                    .ok_or_else(|| TlsConfigError::UnknownCipherSuite(n.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Go does not let TLS 1.3 suites be configured: keep them all.
        for s in provider::ALL_CIPHER_SUITES {
            if s.version() == &rustls::version::TLS13 && !suites.contains(s) {
                suites.push(*s);
            }
        }
        p.cipher_suites = suites;
    }
    if !opts.curve_preferences.is_empty() {
        p.kx_groups = opts
            .curve_preferences
            .iter()
            .map(|n| match n.as_str() {
                "X25519" => Ok(kx_group::X25519),
                "CurveP256" | "P256" | "P-256" => Ok(kx_group::SECP256R1),
                "CurveP384" | "P384" | "P-384" => Ok(kx_group::SECP384R1),
                other => Err(TlsConfigError::UnknownCurve(other.to_string())),
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(p)
}

/// Loads the certificate, key and CA files `opts` names, as nats-server
/// does while it reads its options, so that `-t` and the start itself fail
/// on a missing or unreadable file, in nats-server's words
/// (`error parsing X509 certificate/key pair: open cert.pem: no such file
/// or directory`).
pub fn load_files(opts: &TlsOptions) -> Result<(), String> {
    if let (Some(cert_file), Some(key_file)) = (&opts.cert_file, &opts.key_file) {
        let pair = |e: String| format!("error parsing X509 certificate/key pair: {e}");
        let cert_pem = read_file(cert_file).map_err(pair)?;
        let key_pem = read_file(key_file).map_err(pair)?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(pair(
                "tls: failed to find any PEM data in certificate input".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|_| pair("tls: failed to find any PEM data in key input".into()))?;
        rustls::sign::CertifiedKey::from_der(certs, key, &provider::default_provider()).map_err(
            |e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    pair("tls: private key does not match public key".into())
                }
                e => pair(format!("tls: {e}")),
            },
        )?;
    }
    if let Some(ca_file) = &opts.ca_file {
        let pem = read_file(ca_file)?;
        if !CertificateDer::pem_slice_iter(&pem).any(|c| c.is_ok()) {
            return Err("failed to parse root ca certificate".into());
        }
    }
    Ok(())
}

/// A file's bytes, or Go's `open PATH: reason` / `read PATH: reason`.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let go = crate::gostyle::go_error;
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("open {}: {}", path.display(), go(&e)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("read {}: {}", path.display(), go(&e)))?;
    Ok(bytes)
}

/// The certificate chain and private key named by `cert_file`/`key_file`.
fn identity(
    opts: &TlsOptions,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    let (Some(cert_file), Some(key_file)) = (&opts.cert_file, &opts.key_file) else {
        return Err(TlsConfigError::MissingCertOrKey);
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| read_error("cert_file", cert_file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_error("cert_file", cert_file, e))?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate(cert_file.clone()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_file).map_err(|e| read_error("key_file", key_file, e))?;
    Ok((certs, key))
}

fn read_error(
    what: &'static str,
    path: &Path,
    source: rustls_pki_types::pem::Error,
) -> TlsConfigError {
    TlsConfigError::Read {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The CA certificates in `ca_file`.
fn roots(ca_file: &Path) -> Result<Arc<RootCertStore>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    for ca in
        CertificateDer::pem_file_iter(ca_file).map_err(|e| read_error("ca_file", ca_file, e))?
    {
        roots.add(ca.map_err(|e| read_error("ca_file", ca_file, e))?)?;
    }
    if roots.is_empty() {
        return Err(TlsConfigError::NoCertificate(ca_file.to_path_buf()));
    }
    Ok(Arc::new(roots))
}

/// The protocol versions `min_version` allows.
fn versions(
    opts: &TlsOptions,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], TlsConfigError> {
    static FROM_1_2: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_1_3: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match opts.min_version.as_deref() {
        None | Some("1.2") => Ok(&FROM_1_2),
        Some("1.3") => Ok(&ONLY_1_3),
        Some(other) => Err(TlsConfigError::UnknownVersion(other.to_string())),
    }
}

/// Builds the acceptor for the configured certificate and client policy.
pub fn acceptor(opts: &TlsOptions) -> Result<TlsAcceptor, TlsConfigError> {
    let (certs, key) = identity(opts)?;
    let provider = Arc::new(provider_for(opts)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(opts)?)?;
    let builder = if opts.verifies_clients() {
        let ca_file = opts
            .ca_file
            .as_ref()
            .ok_or(TlsConfigError::VerifyWithoutCa)?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots(ca_file)?, provider).build()?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key)?;
    // Small records cost CPU per message; let rustls fill whole records.
    config.send_half_rtt_data = false;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// TLS for routes (`cluster { tls {} }`), built once when the cluster
/// starts. As on nats-server every route is mutual TLS: the accepting
/// server requires a certificate from `ca_file`, and the soliciting server
/// presents its own certificate and checks the other's against the same
/// `ca_file` (unless `insecure`).
pub struct RouteTls {
    pub opts: TlsOptions,
    /// For routes accepted on the route port (the TLS server side).
    pub acceptor: TlsAcceptor,
    /// For routes this server solicits (the TLS client side).
    pub connector: TlsConnector,
}

impl std::fmt::Debug for RouteTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTls")
            .field("opts", &self.opts)
            .finish()
    }
}

impl RouteTls {
    pub fn new(opts: &TlsOptions) -> Result<RouteTls, TlsConfigError> {
        let ca_file = opts
            .ca_file
            .as_ref()
            .ok_or(TlsConfigError::ClusterWithoutCa)?;
        let (certs, key) = identity(opts)?;
        let roots = roots(ca_file)?;
        let provider = Arc::new(provider_for(opts)?);
        let versions = versions(opts)?;

        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())?;
        server.send_half_rtt_data = false;

        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?;
        let builder = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCertificate { provider }))
        } else {
            builder.with_root_certificates(roots)
        };
        let client = builder.with_client_auth_cert(certs, key)?;
        Ok(RouteTls {
            opts: opts.clone(),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }
}

/// `insecure`: the solicited server's certificate chain and name are not
/// checked (as Go's `InsecureSkipVerify`), but its handshake signatures
/// still are, so the peer must hold the key of the certificate it shows.
#[derive(Debug)]
struct AnyServerCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The negotiated version and cipher suite, in the words (and Go names)
/// nats-server logs them: `TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256`.
pub fn describe_session(session: &rustls::CommonState) -> Option<String> {
    let version = match session.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => "1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "1.2".to_string(),
        other => format!("{other:?}"),
    };
    let suite = session.negotiated_cipher_suite()?.suite();
    let suite = match suite.as_str() {
        // rustls marks TLS 1.3 suites with "TLS13_"; Go does not.
        Some(name) => name.replacen("TLS13_", "TLS_", 1),
        None => format!("{suite:?}"),
    };
    Some(format!("TLS version {version}, cipher suite {suite}"))
}

/// Whether the client's certificate is one of the pinned ones (if any are).
pub fn pinned_cert_ok(opts: &TlsOptions, peer: Option<&[CertificateDer<'_>]>) -> bool {
    if opts.pinned_certs.is_empty() {
        return true;
    }
    let Some(cert) = peer.and_then(|c| c.first()) else {
        return false;
    };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return false;
    };
    let digest = Sha256::digest(parsed.tbs_certificate.subject_pki.raw);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    opts.pinned_certs
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&hex))
}

/// The names a client certificate offers for `verify_and_map`, in the
/// order nats-server tries them: email SANs, DNS SANs, then the subject
/// DN (RFC 2253 form, e.g. `CN=alice,OU=dev,O=Acme`).
pub fn certificate_identities(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::RFC822Name(email) = name {
                names.push(email.to_string());
            }
        }
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.to_string());
            }
        }
    }
    names.push(rfc2253(parsed.subject()));
    names
}

/// The subject as nats-server prints it: most specific attribute first.
fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut parts: Vec<String> = name
        .iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .filter_map(|attr| {
            let value = attr.as_str().ok()?;
            let key = x509_parser::objects::oid2abbrev(
                attr.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_string)
            .unwrap_or_else(|_| attr.attr_type().to_id_string());
            Some(format!("{key}={}", escape_dn_value(value)))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

/// An attribute value escaped as RFC 4514 (and Go's `pkix.Name.String`)
/// escapes it, so that a value holding `,O=…` cannot pose as another
/// attribute and map the certificate to a different configured user.
fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    /// Issue 13, item 12: a CN that holds `,O=…` is escaped, so it can
    /// never read as a subject with another organisation.
    #[test]
    fn subject_values_are_escaped_so_none_poses_as_another_attribute() {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "alice,O=Admins");
        let names = certificate_identities(&cert(params));
        assert_eq!(names, ["CN=alice\\,O=Admins"]);
        assert_eq!(
            escape_dn_value(" #a;b+c<d>e\"f\\ "),
            "\\ #a\\;b\\+c\\<d\\>e\\\"f\\\\\\ "
        );
        assert_eq!(escape_dn_value("#x"), "\\#x");
        assert_eq!(escape_dn_value("plain name"), "plain name");
    }

    fn cert(params: CertificateParams) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn identities_are_email_and_dns_sans_then_the_subject_dn() {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![
            SanType::DnsName("app.example.com".try_into().unwrap()),
            SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
        ];
        // rcgen starts with a CN of its own: begin from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme");
        params.distinguished_name.push(DnType::CommonName, "alice");
        assert_eq!(
            certificate_identities(&cert(params)),
            ["alice@example.com", "app.example.com", "CN=alice,O=Acme"]
        );
    }
}

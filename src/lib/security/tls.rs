//! TLS for Thrift, as Storm 2.8's `org.apache.storm.security.auth.tls.TlsTransportPlugin` does it:
//! nimbus serves a second Thrift endpoint on `nimbus.thrift.tls.port` (0 = off) where every
//! connection is a TLS session carrying **unframed** binary Thrift (Storm's TLS server is a
//! `TThreadPoolServer` over an `SSLServerSocket`, without the framed transport), and clients with
//! `nimbus.thrift.client.use.tls: true` connect there.
//!
//! Keys (per service prefix, `nimbus.thrift.tls.` here; Storm has the same set under
//! `supervisor.thrift.tls.`):
//! * `…server.keystore.path`: the server's certificate chain **and** private key. Storm reads a JKS
//!   or PKCS12 keystore; storm-rs reads **PEM only** (one file holding the certificates, leaf
//!   first, and an unencrypted PKCS#8, PKCS#1 or SEC1 key). `…keystore.password` is ignored.
//! * `…client.auth.required` (default true, as in Storm): mutual TLS. The server then needs
//!   `…server.truststore.path` (PEM CA certificates) and the client's certificate subject becomes the
//!   request's principal, written as Java prints an X.500 name (`CN=alice, O=Example, C=US`);
//!   without a client certificate the principal is `CN=ANONYMOUS`, as in Storm.
//! * Client side: `…client.truststore.path` (PEM CA certificates; required), and when client
//!   authentication is required either `…client.key.path` + `…client.cert.path` (PEM, as in Storm)
//!   or `…client.keystore.path` (one PEM file with certificate and key).
//!
//! Like Storm's Java client, the server's certificate chain is verified against the trust store but
//! its host name is not compared with the certificate's names.
//!
//! [`TlsServer::accept`] runs the handshake under a deadline: a silent peer, a truncated
//! ClientHello or random bytes cost one connection slot for a bounded time and never the server. A
//! plain Thrift client on the TLS port is answered with a TLS alert (which our plain clients
//! recognise and explain) and logged.
//!
//! Worker links (`storm.messaging.netty.tls.*`, Storm's `NettyTlsUtils`) reuse the same PEM loading:
//! [`LinkTls`] holds the server and client configurations every worker-to-worker connection uses;
//! the transport runs the sessions over its non-blocking sockets (`crate::transport::tls`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    ServerConfig, ServerConnection, SignatureScheme, StreamOwned,
};

use super::transport::{plugin, ConnectionType, Plugin, TransportConfigError};
use crate::config::{Config, ConfigError};

/// Storm's TLS transport plugin class (`nimbus.thrift.tls.transport`).
pub const TLS_PLUGIN: &str = "org.apache.storm.security.auth.tls.TlsTransportPlugin";
/// Nimbus's TLS port (0 = no TLS endpoint).
pub const NIMBUS_TLS_PORT: &str = "nimbus.thrift.tls.port";
/// Whether nimbus clients connect to [`NIMBUS_TLS_PORT`] with TLS.
pub const NIMBUS_CLIENT_USE_TLS: &str = "nimbus.thrift.client.use.tls";
/// Serve only the TLS endpoint (no plain `nimbus.thrift.port`).
pub const NIMBUS_TLS_SERVER_ONLY: &str = "nimbus.thrift.tls.server.only";
/// Connections the TLS endpoint serves at once.
pub const NIMBUS_TLS_THREADS: &str = "nimbus.thrift.tls.threads";
/// The largest message a TLS client may send.
pub const NIMBUS_TLS_MAX_BUFFER: &str = "nimbus.thrift.tls.max_buffer_size";
/// Socket timeout of TLS connections.
pub const TLS_SOCKET_TIMEOUT: &str = "storm.thrift.tls.socket.timeout.ms";
/// The topology-level switch nimbus copies into workers' `nimbus.thrift.client.use.tls`.
pub const WORKER_NIMBUS_CLIENT_USE_TLS: &str = "topology.worker.nimbus.thrift.client.use.tls";

/// A TLS alert record (fatal, unexpected_message): the answer to a client that is not speaking TLS.
pub(crate) const ALERT_UNEXPECTED_MESSAGE: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a];

/// `nimbus.thrift.tls.port`: 0 (off) or a port.
pub fn nimbus_tls_port(conf: &Config) -> Result<u16, ConfigError> {
    match conf.get_u64(NIMBUS_TLS_PORT)? {
        0 => Ok(0),
        _ => conf.get_port(NIMBUS_TLS_PORT),
    }
}

/// The Thrift services with TLS keys, as Storm's `ThriftConnectionType.*_TLS` names them (DRPC's
/// two ports share the storm-rs keys `drpc.thrift.tls.*`; Storm 2.8 has no TLS for DRPC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsService {
    Nimbus,
    Supervisor,
    Drpc,
}

/// Supervisor clients connect with TLS (Storm's `supervisor.thrift.client.use.tls`).
pub const SUPERVISOR_CLIENT_USE_TLS: &str = "supervisor.thrift.client.use.tls";
/// DRPC clients (the `storm` CLI, `DRPCSpout`, `ReturnResults`) connect with TLS (storm-rs).
pub const DRPC_CLIENT_USE_TLS: &str = "drpc.thrift.client.use.tls";

impl TlsService {
    /// The TLS keys of the Thrift service `ty`.
    pub fn of(ty: ConnectionType) -> TlsService {
        match ty {
            ConnectionType::Nimbus => TlsService::Nimbus,
            ConnectionType::Supervisor => TlsService::Supervisor,
            ConnectionType::Drpc | ConnectionType::DrpcInvocations => TlsService::Drpc,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            TlsService::Nimbus => "nimbus.thrift.tls.",
            TlsService::Supervisor => "supervisor.thrift.tls.",
            TlsService::Drpc => "drpc.thrift.tls.",
        }
    }

    /// The full key `<service>.thrift.tls.<name>`.
    pub fn key(self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }

    /// The key whose value says clients use TLS.
    pub fn use_tls_key(self) -> &'static str {
        match self {
            TlsService::Nimbus => NIMBUS_CLIENT_USE_TLS,
            TlsService::Supervisor => SUPERVISOR_CLIENT_USE_TLS,
            TlsService::Drpc => DRPC_CLIENT_USE_TLS,
        }
    }

    /// The key naming the TLS port.
    pub fn port_key(self) -> &'static str {
        match self {
            TlsService::Nimbus => NIMBUS_TLS_PORT,
            TlsService::Supervisor => "supervisor.thrift.port",
            TlsService::Drpc => "drpc.port or drpc.invocations.port",
        }
    }

    /// What turns the TLS server on.
    fn enabled_by(self) -> &'static str {
        match self {
            TlsService::Nimbus => "nimbus.thrift.tls.port is set",
            TlsService::Supervisor => {
                "supervisor.thrift.transport (or storm.thrift.transport) names TlsTransportPlugin"
            }
            TlsService::Drpc => {
                "drpc.thrift.transport or drpc.invocations.thrift.transport (or storm.thrift.transport) names TlsTransportPlugin"
            }
        }
    }

    /// Where a plain client should go instead.
    fn plain_hint(self) -> &'static str {
        match self {
            TlsService::Nimbus => "plain clients use nimbus.thrift.port",
            TlsService::Supervisor => "this supervisor serves TLS only (supervisor.thrift.transport)",
            TlsService::Drpc => "this DRPC port serves TLS only (drpc.thrift.transport / drpc.invocations.thrift.transport)",
        }
    }
}

/// The TLS server for the supervisor or a DRPC port, when its transport key
/// (`supervisor.thrift.transport`, `drpc.thrift.transport`, `drpc.invocations.thrift.transport`,
/// else `storm.thrift.transport`) names [`TLS_PLUGIN`]: those services serve TLS on their usual
/// port, as Storm's supervisor does. Nimbus serves TLS on its own port
/// ([`NIMBUS_TLS_PORT`]), so this is `None` for it.
pub fn server_for(
    conf: &Config,
    ty: ConnectionType,
) -> Result<Option<TlsServer>, TransportConfigError> {
    if ty == ConnectionType::Nimbus {
        return Ok(None);
    }
    match plugin(conf, ty)? {
        (Plugin::Tls, _) => Ok(Some(TlsServer::from_conf(conf, TlsService::of(ty))?)),
        _ => Ok(None),
    }
}

/// Why a TLS setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{key} is not set: {why}")]
    Missing { key: String, why: String },
    #[error(
        "{key} = {path}: storm-rs reads PEM files only, not {kind} keystores; convert it, e.g. \
         `keytool -importkeystore -srckeystore KEYSTORE -destkeystore x.p12 -deststoretype PKCS12` \
         then `openssl pkcs12 -in x.p12 -nodes -out x.pem`"
    )]
    KeystoreFormat {
        key: String,
        path: String,
        kind: &'static str,
    },
    #[error("{key} = {path}: {message}")]
    File {
        key: String,
        path: String,
        message: String,
    },
    #[error("TLS setup for {what}: {message}")]
    Setup { what: String, message: String },
    #[error("{key} = {value}: {why}")]
    Unsupported {
        key: String,
        value: String,
        why: String,
    },
}

fn setup_err(what: &str, e: impl std::fmt::Display) -> TlsConfigError {
    TlsConfigError::Setup {
        what: what.to_string(),
        message: e.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    // ring on purpose (aws-lc-rs doubles the build); rustls 0.23.48 deprecates this function only
    // to point at post-quantum key exchange, which ring lacks.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Reads the PEM file named by `key`; JKS/PKCS12 file names and non-PEM contents are refused with
/// a conversion hint.
fn read_pem(key: &str, path: &str) -> Result<Vec<u8>, TlsConfigError> {
    let lower = path.to_ascii_lowercase();
    let kind = if lower.ends_with(".jks") {
        Some("JKS")
    } else if [".p12", ".pkcs12", ".pfx"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        Some("PKCS12")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(TlsConfigError::KeystoreFormat {
            key: key.to_string(),
            path: path.to_string(),
            kind,
        });
    }
    let bytes = std::fs::read(Path::new(path)).map_err(|e| TlsConfigError::File {
        key: key.to_string(),
        path: path.to_string(),
        message: e.to_string(),
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(TlsConfigError::KeystoreFormat {
            key: key.to_string(),
            path: path.to_string(),
            kind: "binary (JKS or PKCS12?)",
        });
    }
    Ok(bytes)
}

fn certs_in(
    key: &str,
    path: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::File {
            key: key.to_string(),
            path: path.to_string(),
            message: format!("bad PEM certificate: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::File {
            key: key.to_string(),
            path: path.to_string(),
            message: "no CERTIFICATE in this PEM file".into(),
        });
    }
    Ok(certs)
}

fn key_in(key: &str, path: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
        TlsConfigError::File {
            key: key.to_string(),
            path: path.to_string(),
            message: if encrypted {
                "the private key is encrypted; storm-rs needs an unencrypted PEM key (openssl pkey -in KEY -out plain.pem)".into()
            } else {
                format!("no usable PRIVATE KEY in this PEM file: {e}")
            },
        }
    })
}

fn roots(key: &str, path: &str) -> Result<Arc<RootCertStore>, TlsConfigError> {
    let pem = read_pem(key, path)?;
    let mut store = RootCertStore::empty();
    for cert in certs_in(key, path, &pem)? {
        store.add(cert).map_err(|e| TlsConfigError::File {
            key: key.to_string(),
            path: path.to_string(),
            message: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(Arc::new(store))
}

fn opt_str(conf: &Config, key: &str) -> Result<Option<String>, TlsConfigError> {
    Ok(conf
        .get_opt_str(key)?
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

fn client_auth_required(conf: &Config, svc: TlsService) -> Result<bool, TlsConfigError> {
    let key = svc.key("client.auth.required");
    Ok(match conf.get(&key) {
        None | Some(serde_json::Value::Null) => false,
        Some(_) => conf.get_bool(&key)?,
    })
}

/// The server side: certificate, key and (for mutual TLS) the client verifier.
#[derive(Debug)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
    client_auth: bool,
    service: TlsService,
}

/// Why a TLS connection was refused by the server.
#[derive(Debug, thiserror::Error)]
pub enum TlsAcceptError {
    #[error("not a TLS client (first byte {first:#04x}): a plain Thrift client on the TLS port? Clients reach this port with {use_tls}: true; {plain}")]
    NotTls {
        first: u8,
        use_tls: &'static str,
        plain: &'static str,
    },
    #[error("the client closed the connection before sending anything")]
    Closed,
    #[error("the TLS handshake did not finish within {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
}

impl TlsServer {
    /// The TLS server `conf` configures for `svc`; certificate files are read now, so a bad one
    /// stops the daemon at startup.
    pub fn from_conf(conf: &Config, svc: TlsService) -> Result<TlsServer, TlsConfigError> {
        let ks_key = svc.key("server.keystore.path");
        let ks = opt_str(conf, &ks_key)?.ok_or_else(|| TlsConfigError::Missing {
            key: ks_key.clone(),
            why: format!(
                "{}, so the TLS server needs a PEM file with its certificate chain and private key",
                svc.enabled_by()
            ),
        })?;
        let pem = read_pem(&ks_key, &ks)?;
        let chain = certs_in(&ks_key, &ks, &pem)?;
        let key = key_in(&ks_key, &ks, &pem)?;
        let client_auth = client_auth_required(conf, svc)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| setup_err("the server", e))?;
        let builder = if client_auth {
            let ts_key = svc.key("server.truststore.path");
            let ts = opt_str(conf, &ts_key)?.ok_or_else(|| TlsConfigError::Missing {
                key: ts_key.clone(),
                why: format!(
                    "{} is true, so the server needs PEM CA certificates to verify client certificates (or set it to false)",
                    svc.key("client.auth.required")
                ),
            })?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots(&ts_key, &ts)?, provider())
                    .build()
                    .map_err(|e| setup_err(&ts_key, e))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| setup_err(&ks_key, e))?;
        tracing::info!(service = ?svc, keystore = %ks, client_auth, "TLS server configured");
        Ok(TlsServer {
            config: Arc::new(config),
            client_auth,
            service: svc,
        })
    }

    /// Whether clients must present a certificate.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }

    /// Runs the server handshake on `stream` within `deadline`: the session and the principal
    /// (the client certificate's subject, `CN=ANONYMOUS` without one).
    pub fn accept<'a>(
        &self,
        stream: &'a TcpStream,
        deadline: Duration,
    ) -> Result<(StreamOwned<ServerConnection, &'a TcpStream>, String), TlsAcceptError> {
        let mut io = super::transport::DeadlineIo::new(stream, deadline);
        let timed_out = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            )
        };
        // Look at the first byte before TLS does: a plain client gets an alert and a clear log line.
        let mut first = [0u8; 1];
        let n = io.peek(&mut first).map_err(|e| {
            if timed_out(&e) {
                TlsAcceptError::Timeout(deadline)
            } else {
                TlsAcceptError::Handshake(e)
            }
        })?;
        if n == 0 {
            return Err(TlsAcceptError::Closed);
        }
        if first[0] != 0x16 {
            let mut s = stream;
            let _ = s.write_all(&ALERT_UNEXPECTED_MESSAGE);
            return Err(TlsAcceptError::NotTls {
                first: first[0],
                use_tls: self.service.use_tls_key(),
                plain: self.service.plain_hint(),
            });
        }
        let mut conn = ServerConnection::new(self.config.clone())
            .map_err(|e| TlsAcceptError::Handshake(std::io::Error::other(e)))?;
        while conn.is_handshaking() {
            match conn.complete_io(&mut io) {
                Ok((0, 0)) if conn.is_handshaking() && conn.wants_read() => {
                    return Err(TlsAcceptError::Handshake(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the client closed the connection in the middle of the handshake",
                    )))
                }
                Ok(_) => {}
                Err(e) if timed_out(&e) => return Err(TlsAcceptError::Timeout(deadline)),
                Err(e) => return Err(TlsAcceptError::Handshake(e)),
            }
        }
        let principal = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| subject_dn(c.as_ref()))
            .unwrap_or_else(|| "CN=ANONYMOUS".to_string());
        Ok((StreamOwned::new(conn, stream), principal))
    }
}

/// Verifies the server's chain against the trust store but not its host name (as Storm's Java
/// client, whose plain `SSLSocket` does no endpoint identification).
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The client side of TLS to one service.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    service: TlsService,
    has_client_cert: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("service", &self.service)
            .field("has_client_cert", &self.has_client_cert)
            .finish()
    }
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}
impl Eq for TlsClient {}

impl TlsClient {
    /// The TLS client `conf` configures for `svc` (trust store, and the client certificate when
    /// `…client.auth.required`); files are read now.
    pub fn from_conf(conf: &Config, svc: TlsService) -> Result<TlsClient, TlsConfigError> {
        let ts_key = svc.key("client.truststore.path");
        let ts = opt_str(conf, &ts_key)?.ok_or_else(|| TlsConfigError::Missing {
            key: ts_key.clone(),
            why: format!(
                "{} is true, so the client needs PEM CA certificates to verify the server",
                svc.use_tls_key()
            ),
        })?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(roots(&ts_key, &ts)?, provider())
                .build()
                .map_err(|e| setup_err(&ts_key, e))?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| setup_err("the client", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier(verifier)));
        let (key_key, cert_key, ks_key) = (
            svc.key("client.key.path"),
            svc.key("client.cert.path"),
            svc.key("client.keystore.path"),
        );
        let creds = match (
            opt_str(conf, &key_key)?,
            opt_str(conf, &cert_key)?,
            opt_str(conf, &ks_key)?,
        ) {
            (Some(k), Some(c), _) => {
                let chain = certs_in(&cert_key, &c, &read_pem(&cert_key, &c)?)?;
                let key = key_in(&key_key, &k, &read_pem(&key_key, &k)?)?;
                Some((chain, key, key_key.clone()))
            }
            (None, None, Some(ks)) => {
                let pem = read_pem(&ks_key, &ks)?;
                Some((
                    certs_in(&ks_key, &ks, &pem)?,
                    key_in(&ks_key, &ks, &pem)?,
                    ks_key.clone(),
                ))
            }
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(TlsConfigError::Missing {
                    key: format!("{key_key} / {cert_key}"),
                    why: "set both the client key and the client certificate (PEM)".into(),
                })
            }
            (None, None, None) => None,
        };
        if creds.is_none() && client_auth_required(conf, svc)? {
            return Err(TlsConfigError::Missing {
                key: format!("{key_key} and {cert_key}"),
                why: format!(
                    "{} is true, so the client must present a certificate (or set {ks_key} to one PEM file with certificate and key)",
                    svc.key("client.auth.required")
                ),
            });
        }
        let has_client_cert = creds.is_some();
        let config = match creds {
            Some((chain, key, which)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| setup_err(&which, e))?,
            None => builder.with_no_client_auth(),
        };
        Ok(TlsClient {
            config: Arc::new(config),
            service: svc,
            has_client_cert,
        })
    }

    /// Runs the client handshake on `stream` (connected to `addr`, host `host`); errors name the
    /// keys to check.
    pub fn handshake(
        &self,
        stream: TcpStream,
        host: &str,
        addr: &str,
    ) -> std::io::Result<StreamOwned<ClientConnection, TcpStream>> {
        let name = ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::try_from("storm").expect("a valid DNS name"));
        let mut conn =
            ClientConnection::new(self.config.clone(), name).map_err(std::io::Error::other)?;
        let mut sock = stream;
        while conn.is_handshaking() {
            let step = conn.complete_io(&mut sock);
            let err = match step {
                Ok((0, 0)) if conn.is_handshaking() && conn.wants_read() => std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ),
                Ok(_) => continue,
                Err(e) => e,
            };
            return Err(self.explain(addr, err));
        }
        Ok(StreamOwned::new(conn, sock))
    }

    /// `e` (a TLS failure talking to `addr`) with the keys to fix.
    pub fn explain(&self, addr: &str, e: std::io::Error) -> std::io::Error {
        let svc = self.service;
        let rustls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        let hint = match rustls_err {
            Some(rustls::Error::InvalidCertificate(_)) => format!(
                "the server's certificate is not trusted: {} must hold the CA that signed it",
                svc.key("client.truststore.path")
            ),
            Some(rustls::Error::AlertReceived(_)) => format!(
                "the server refused this client{}: it needs a certificate signed by a CA in the server's {} ({}, {})",
                if self.has_client_cert { "'s certificate" } else { " (no client certificate)" },
                svc.key("server.truststore.path"),
                svc.key("client.key.path"),
                svc.key("client.cert.path"),
            ),
            Some(rustls::Error::InvalidMessage(_)) | Some(rustls::Error::InappropriateMessage { .. }) => format!(
                "the server does not speak TLS: is {addr} the TLS port ({})? {} makes clients use it",
                svc.port_key(),
                svc.use_tls_key()
            ),
            _ if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) => format!(
                "the server closed the connection during the TLS handshake: is {addr} the TLS port ({})? A plain Thrift port drops TLS clients; set {}: false to use the plain port",
                svc.port_key(),
                svc.use_tls_key()
            ),
            _ => format!(
                "check {}, {} and the server's TLS settings",
                svc.use_tls_key(),
                svc.key("client.truststore.path")
            ),
        };
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("TLS with {addr} failed: {e}; {hint}"),
        )
    }
}

/// A TLS session shared by the read and write halves of a client connection (the sync client
/// writes a call, then reads its reply, so the halves never wait on each other).
pub struct SharedTls {
    inner: Arc<Mutex<StreamOwned<ClientConnection, TcpStream>>>,
    client: TlsClient,
    addr: String,
}

impl SharedTls {
    /// The two halves of `stream`.
    pub fn split(
        stream: StreamOwned<ClientConnection, TcpStream>,
        client: TlsClient,
        addr: &str,
    ) -> (SharedTls, SharedTls) {
        let inner = Arc::new(Mutex::new(stream));
        let a = SharedTls {
            inner: inner.clone(),
            client: client.clone(),
            addr: addr.to_string(),
        };
        let b = SharedTls {
            inner,
            client,
            addr: addr.to_string(),
        };
        (a, b)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamOwned<ClientConnection, TcpStream>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Read for SharedTls {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.lock().read(buf);
        r.map_err(
            |e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                // A refused client certificate shows up on the first read (TLS 1.3).
                Some(_) => self.client.explain(&self.addr, e),
                None => e,
            },
        )
    }
}

impl Write for SharedTls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lock().flush()
    }
}

/// Whether the first bytes of a reply are a TLS record (an alert or handshake from a TLS port):
/// a plain client reading a frame length sees them.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, ..])
}

// ---- worker links (storm.messaging.netty.tls.*) --------------------------------------------------

/// TLS on worker-to-worker links (read from the topology conf).
pub const NETTY_TLS_ENABLE: &str = "storm.messaging.netty.tls.enable";
/// The accepting worker's certificate chain and key (one PEM file; Storm: a JKS/PKCS12 keystore).
pub const NETTY_TLS_KEYSTORE: &str = "storm.messaging.netty.tls.keystore.path";
/// The CAs the accepting worker trusts for client certificates (PEM).
pub const NETTY_TLS_TRUSTSTORE: &str = "storm.messaging.netty.tls.truststore.path";
/// The connecting worker's certificate chain and key (one PEM file).
pub const NETTY_TLS_CLIENT_KEYSTORE: &str = "storm.messaging.netty.tls.client.keystore.path";
/// The CAs the connecting worker trusts for the accepting worker's certificate (PEM).
pub const NETTY_TLS_CLIENT_TRUSTSTORE: &str = "storm.messaging.netty.tls.client.truststore.path";
/// Cipher suites (a string or a list; IANA names, Storm's default is the three TLS 1.3 suites).
pub const NETTY_TLS_CIPHERS: &str = "storm.messaging.netty.tls.ciphers";
/// Protocol versions (`TLSv1.3`, Storm's default, and/or `TLSv1.2`).
pub const NETTY_TLS_PROTOCOLS: &str = "storm.messaging.netty.tls.ssl.protocols";
/// Storm: fail unless netty's OpenSSL provider is available. storm-rs uses rustls: ignored.
pub const NETTY_TLS_REQUIRE_OPEN_SSL: &str = "storm.messaging.netty.tls.require.open.ssl";

/// The TLS configurations of a worker's links, as Storm's `NettyTlsUtils` builds them: the server
/// side (accepting workers) presents [`NETTY_TLS_KEYSTORE`] and **requires** a client certificate
/// signed by a CA in [`NETTY_TLS_TRUSTSTORE`] (Storm's `ClientAuth.REQUIRE`); the client side
/// (connecting workers) presents [`NETTY_TLS_CLIENT_KEYSTORE`] and verifies the server's chain
/// against [`NETTY_TLS_CLIENT_TRUSTSTORE`] without comparing host names (Storm's netty client does
/// no endpoint identification either). Every connection does a full handshake (no session
/// tickets, no resumption), so certificates are checked on every reconnect.
#[derive(Clone)]
pub struct LinkTls {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl std::fmt::Debug for LinkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkTls").finish_non_exhaustive()
    }
}

impl PartialEq for LinkTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.server, &other.server) && Arc::ptr_eq(&self.client, &other.client)
    }
}
impl Eq for LinkTls {}

/// `storm.messaging.netty.tls.ssl.protocols`: a comma- or space-separated list.
fn link_versions(
    conf: &Config,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsConfigError> {
    let Some(value) = opt_str(conf, NETTY_TLS_PROTOCOLS)? else {
        return Ok(vec![&rustls::version::TLS13]);
    };
    let mut out: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    for name in value.split([',', ' ']).filter(|s| !s.is_empty()) {
        let v = match name.to_ascii_uppercase().as_str() {
            "TLSV1.3" => &rustls::version::TLS13,
            "TLSV1.2" => &rustls::version::TLS12,
            _ => {
                return Err(TlsConfigError::Unsupported {
                    key: NETTY_TLS_PROTOCOLS.into(),
                    value: value.clone(),
                    why: format!("{name} is not supported; storm-rs speaks TLSv1.3 and TLSv1.2"),
                })
            }
        };
        if !out.iter().any(|o| o.version == v.version) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(TlsConfigError::Unsupported {
            key: NETTY_TLS_PROTOCOLS.into(),
            value,
            why: "no protocol named; use TLSv1.3 (Storm's default) and/or TLSv1.2".into(),
        });
    }
    Ok(out)
}

/// A cipher suite name in one spelling: IANA's (`TLS_AES_128_GCM_SHA256`, what Storm's keys hold)
/// and rustls's (`TLS13_AES_128_GCM_SHA256`) compare equal.
fn suite_name(name: &str) -> String {
    name.trim().to_ascii_uppercase().replace("TLS13_", "TLS_")
}

/// The crypto provider with the cipher suites of `storm.messaging.netty.tls.ciphers` (all of
/// ring's when unset; Storm's default, the three TLS 1.3 suites, is that set for TLS 1.3).
fn link_provider(conf: &Config) -> Result<Arc<CryptoProvider>, TlsConfigError> {
    let wanted: Vec<String> = conf
        .get_string_list(NETTY_TLS_CIPHERS)?
        .iter()
        .flat_map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.trim().is_empty())
        .collect();
    let base = provider();
    if wanted.is_empty() {
        return Ok(base);
    }
    let known = |s: &rustls::SupportedCipherSuite| suite_name(&format!("{:?}", s.suite()));
    let mut suites = Vec::new();
    for name in &wanted {
        match base
            .cipher_suites
            .iter()
            .find(|s| known(s) == suite_name(name))
        {
            Some(s) => suites.push(*s),
            None => {
                tracing::warn!(key = NETTY_TLS_CIPHERS, cipher = %name, "cipher suite not supported by storm-rs (rustls/ring); ignored")
            }
        }
    }
    if suites.is_empty() {
        let supported: Vec<String> = base.cipher_suites.iter().map(known).collect();
        return Err(TlsConfigError::Unsupported {
            key: NETTY_TLS_CIPHERS.into(),
            value: wanted.join(","),
            why: format!(
                "none of these is supported; storm-rs supports {}",
                supported.join(", ")
            ),
        });
    }
    Ok(Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..(*base).clone()
    }))
}

impl LinkTls {
    /// `None` unless `storm.messaging.netty.tls.enable` is true; then the configurations from the
    /// PEM files the keys name, read now (a missing or unreadable file is an error naming its key).
    pub fn from_conf(conf: &Config) -> Result<Option<LinkTls>, TlsConfigError> {
        let on = match conf.get(NETTY_TLS_ENABLE) {
            None => false,
            Some(_) => conf.get_bool(NETTY_TLS_ENABLE)?,
        };
        if !on {
            return Ok(None);
        }
        if conf.get(NETTY_TLS_REQUIRE_OPEN_SSL).is_some()
            && conf.get_bool(NETTY_TLS_REQUIRE_OPEN_SSL)?
        {
            tracing::warn!(
                "{NETTY_TLS_REQUIRE_OPEN_SSL} is ignored: storm-rs worker links use rustls, not OpenSSL"
            );
        }
        let required = |key: &str, why: &str| -> Result<String, TlsConfigError> {
            opt_str(conf, key)?.ok_or_else(|| TlsConfigError::Missing {
                key: key.to_string(),
                why: format!("{NETTY_TLS_ENABLE} is true, so {why}"),
            })
        };
        let versions = link_versions(conf)?;
        let provider = link_provider(conf)?;
        let suites_err = |e: rustls::Error| TlsConfigError::Unsupported {
            key: format!("{NETTY_TLS_PROTOCOLS} / {NETTY_TLS_CIPHERS}"),
            value: format!(
                "{:?} / {:?}",
                conf.get(NETTY_TLS_PROTOCOLS),
                conf.get(NETTY_TLS_CIPHERS)
            ),
            why: format!("{e}: name at least one cipher suite of each protocol"),
        };

        // The accepting side: its certificate, and the CAs of the workers' client certificates.
        let ks = required(
            NETTY_TLS_KEYSTORE,
            "each worker needs one PEM file with its certificate chain and unencrypted private key",
        )?;
        let pem = read_pem(NETTY_TLS_KEYSTORE, &ks)?;
        let chain = certs_in(NETTY_TLS_KEYSTORE, &ks, &pem)?;
        let key = key_in(NETTY_TLS_KEYSTORE, &ks, &pem)?;
        let ts = required(
            NETTY_TLS_TRUSTSTORE,
            "each worker needs PEM CA certificates to verify the client certificates of the workers connecting to it (worker links are mutual TLS)",
        )?;
        let client_verifier = WebPkiClientVerifier::builder_with_provider(
            roots(NETTY_TLS_TRUSTSTORE, &ts)?,
            provider.clone(),
        )
        .build()
        .map_err(|e| setup_err(NETTY_TLS_TRUSTSTORE, e))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(suites_err)?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain, key)
            .map_err(|e| setup_err(NETTY_TLS_KEYSTORE, e))?;
        server.send_tls13_tickets = 0;

        // The connecting side: the CAs of the accepting workers, and its own client certificate.
        let cts = required(
            NETTY_TLS_CLIENT_TRUSTSTORE,
            "each worker needs PEM CA certificates to verify the workers it connects to",
        )?;
        let cks = required(
            NETTY_TLS_CLIENT_KEYSTORE,
            "each worker needs one PEM file with the client certificate chain and unencrypted key it presents to other workers",
        )?;
        let pem = read_pem(NETTY_TLS_CLIENT_KEYSTORE, &cks)?;
        let chain = certs_in(NETTY_TLS_CLIENT_KEYSTORE, &cks, &pem)?;
        let key = key_in(NETTY_TLS_CLIENT_KEYSTORE, &cks, &pem)?;
        let server_verifier = WebPkiServerVerifier::builder_with_provider(
            roots(NETTY_TLS_CLIENT_TRUSTSTORE, &cts)?,
            provider.clone(),
        )
        .build()
        .map_err(|e| setup_err(NETTY_TLS_CLIENT_TRUSTSTORE, e))?;
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(suites_err)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier(server_verifier)))
            .with_client_auth_cert(chain, key)
            .map_err(|e| setup_err(NETTY_TLS_CLIENT_KEYSTORE, e))?;
        client.resumption = rustls::client::Resumption::disabled();
        tracing::info!(keystore = %ks, client_keystore = %cks, "worker-link TLS configured (mutual TLS)");
        Ok(Some(LinkTls {
            server: Arc::new(server),
            client: Arc::new(client),
        }))
    }

    /// A new accepting-side session.
    pub fn server_session(&self) -> Result<ServerConnection, rustls::Error> {
        ServerConnection::new(self.server.clone())
    }

    /// A new connecting-side session to the worker at `ip` (the name is only what the verifier is
    /// given; it is not compared with the certificate).
    pub fn client_session(&self, ip: std::net::IpAddr) -> Result<ClientConnection, rustls::Error> {
        ClientConnection::new(self.client.clone(), ServerName::IpAddress(ip.into()))
    }
}

// ---- X.500 names ---------------------------------------------------------------------------------

/// One DER element: (tag, contents, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn oid_text(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut v: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < oid.len() {
                let (a, b2) = if v < 80 {
                    (v / 40, v % 40)
                } else {
                    (2, v - 80)
                };
                parts.push(a.to_string());
                parts.push(b2.to_string());
            } else {
                parts.push(v.to_string());
            }
            v = 0;
        }
    }
    parts.join(".")
}

fn attr_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.4" => "SURNAME",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.42" => "GIVENNAME",
        "2.5.4.43" => "INITIALS",
        "2.5.4.44" => "GENERATION",
        "2.5.4.46" => "DNQ",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "EMAILADDRESS",
        _ => return None,
    })
}

fn attr_value(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, T61String, IA5String, VisibleString
        0x0c | 0x13 | 0x14 | 0x16 | 0x1a => Some(String::from_utf8_lossy(v).into_owned()),
        // BMPString (UTF-16BE)
        0x1e => {
            let units: Vec<u16> = v
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// A value quoted the way Java's `X500Name.toString` (RFC 1779) quotes it.
fn quote(v: &str) -> String {
    let special =
        v.chars().any(|c| ",+=\"\\<>#;\n".contains(c)) || v.starts_with(' ') || v.ends_with(' ');
    if !special {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The subject of a DER certificate as Java prints it (`getSubjectDN().getName()`): the RDNs
/// most specific first, `", "` between them (`CN=alice, O=Example, C=US`). `None` when the
/// certificate cannot be read.
pub fn subject_dn(cert: &[u8]) -> Option<String> {
    let (_, cert, _) = der(cert)?;
    let (_, tbs, _) = der(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = der(rest)?;
    if tag == 0xa0 {
        rest = r; // version
    }
    // serial, signature algorithm, issuer, validity, then the subject
    for _ in 0..4 {
        rest = der(rest)?.2;
    }
    let (tag, mut name, _) = der(rest)?;
    if tag != 0x30 {
        return None;
    }
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (_, mut set, r) = der(name)?;
        name = r;
        let mut atvs = Vec::new();
        while !set.is_empty() {
            let (_, atv, r) = der(set)?;
            set = r;
            let (_, oid, value) = der(atv)?;
            let (vtag, vbytes, _) = der(value)?;
            let oid = oid_text(oid);
            let text = match (attr_name(&oid), attr_value(vtag, vbytes)) {
                (Some(n), Some(v)) => format!("{n}={}", quote(&v)),
                _ => {
                    let raw = &value[..value.len() - der(value)?.2.len()];
                    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                    format!("OID.{oid}=#{hex}")
                }
            };
            atvs.push(text);
        }
        rdns.push(atvs.join(" + "));
    }
    rdns.reverse();
    Some(rdns.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_quoting() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
        assert_eq!(quote("alice"), "alice");
        assert_eq!(quote("a, b"), "\"a, b\"");
        assert!(looks_like_tls(&[0x15, 0x03, 0x03]));
        assert!(!looks_like_tls(&[0, 0, 1, 0]));
    }

    #[test]
    fn garbage_certificates_have_no_subject() {
        assert_eq!(subject_dn(&[]), None);
        assert_eq!(subject_dn(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject_dn(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }

    #[test]
    fn keystores_are_refused_with_a_conversion_hint() {
        let e = read_pem("nimbus.thrift.tls.server.keystore.path", "/x/server.jks")
            .unwrap_err()
            .to_string();
        assert!(e.contains("PEM files only") && e.contains("JKS"), "{e}");
        let mut c = Config::defaults();
        assert_eq!(nimbus_tls_port(&c).unwrap(), 0, "off by default");
        c.set(NIMBUS_TLS_PORT, 70000);
        assert!(nimbus_tls_port(&c).is_err());
        c.set(NIMBUS_TLS_PORT, 6067);
        let e = TlsServer::from_conf(&c, TlsService::Nimbus)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nimbus.thrift.tls.server.keystore.path"), "{e}");
        c.set(NIMBUS_CLIENT_USE_TLS, true);
        let e = TlsClient::from_conf(&c, TlsService::Nimbus)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nimbus.thrift.tls.client.truststore.path"),
            "{e}"
        );
    }
}

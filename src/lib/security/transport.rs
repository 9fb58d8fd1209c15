//! `storm.thrift.transport` (and the per-service `nimbus.thrift.transport`,
//! `drpc.thrift.transport`, `drpc.invocations.thrift.transport`, `supervisor.thrift.transport`,
//! which win when set, as in Storm's `ThriftConnectionType`): which transport plugin a Thrift server
//! serves and a client speaks, built once from the configuration.
//!
//! * `org.apache.storm.security.auth.SimpleTransportPlugin` — plain framed Thrift, nobody is
//!   authenticated (the default).
//! * `org.apache.storm.security.auth.digest.DigestSaslTransportPlugin` — SASL DIGEST-MD5 with the
//!   users of the JAAS file named by `java.security.auth.login.config` ([`super::sasl`]).
//!
//! The server side ([`ServerTransport::accept`]) runs the handshake under a deadline and returns
//! the principal; the client side ([`ClientTransport::handshake`]) authenticates a fresh socket.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::jaas::{JaasConfig, JaasError, LOGIN_CONFIG_KEY};
use super::sasl::{self, SaslError};
use super::tls::{TlsService, TLS_PLUGIN};
use crate::config::{Config, ConfigError};

pub const SIMPLE_PLUGIN: &str = "org.apache.storm.security.auth.SimpleTransportPlugin";
pub const DIGEST_PLUGIN: &str = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin";
pub const TRANSPORT_KEY: &str = "storm.thrift.transport";

/// How long a new connection may take to authenticate (storm-rs; Storm relies on the socket
/// timeout).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Thrift services, as Storm's `ThriftConnectionType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionType {
    Nimbus,
    Supervisor,
    Drpc,
    DrpcInvocations,
}

impl ConnectionType {
    /// The per-service transport key, which wins over `storm.thrift.transport` when set.
    pub fn transport_key(self) -> &'static str {
        match self {
            ConnectionType::Nimbus => "nimbus.thrift.transport",
            ConnectionType::Supervisor => "supervisor.thrift.transport",
            ConnectionType::Drpc => "drpc.thrift.transport",
            ConnectionType::DrpcInvocations => "drpc.invocations.thrift.transport",
        }
    }
}

/// Why the transport configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportConfigError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Jaas(#[from] JaasError),
    #[error(transparent)]
    Tls(#[from] super::tls::TlsConfigError),
    #[error("config key \"{key}\" must be {expected}, but it is {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error(
        "{key} = {value} is not supported by storm-rs; use {SIMPLE_PLUGIN}, {DIGEST_PLUGIN} or (supervisor and DRPC only) {TLS_PLUGIN}"
    )]
    Unsupported { key: &'static str, value: String },
    #[error(
        "{key} = {TLS_PLUGIN} cannot apply to nimbus: nimbus serves TLS on its own port; set nimbus.thrift.tls.port (and nimbus.thrift.client.use.tls on clients), and set nimbus.thrift.transport to {SIMPLE_PLUGIN} or {DIGEST_PLUGIN}"
    )]
    TlsForNimbus { key: &'static str },
    #[error("{key} = {DIGEST_PLUGIN} needs a JAAS login file: set {LOGIN_CONFIG_KEY} to a file with a {section} section")]
    NoLoginFile {
        key: &'static str,
        section: &'static str,
    },
}

/// Where the transport keys are read: a daemon's [`Config`] or a topology's configuration map.
pub trait ConfLookup {
    /// The string value of `key`, `None` when unset.
    fn string(&self, key: &str) -> Result<Option<String>, TransportConfigError>;
    /// The boolean value of `key`, `None` when unset.
    fn boolean(&self, key: &str) -> Result<Option<bool>, TransportConfigError>;
    /// These values as a [`Config`] (the TLS keys are read from one).
    fn to_config(&self) -> Config;
}

impl ConfLookup for Config {
    fn string(&self, key: &str) -> Result<Option<String>, TransportConfigError> {
        Ok(self.get_opt_str(key)?.map(str::to_string))
    }
    fn boolean(&self, key: &str) -> Result<Option<bool>, TransportConfigError> {
        match self.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(_) => Ok(Some(self.get_bool(key)?)),
        }
    }
    fn to_config(&self) -> Config {
        self.clone()
    }
}

impl ConfLookup for serde_json::Map<String, serde_json::Value> {
    fn string(&self, key: &str) -> Result<Option<String>, TransportConfigError> {
        match self.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(TransportConfigError::WrongType {
                key: key.to_string(),
                expected: "a string",
                found: other.to_string(),
            }),
        }
    }
    fn boolean(&self, key: &str) -> Result<Option<bool>, TransportConfigError> {
        match self.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            // Java's `ObjectReader.getBoolean` also reads "true"/"false" strings.
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => {
                Ok(Some(false))
            }
            Some(other) => Err(TransportConfigError::WrongType {
                key: key.to_string(),
                expected: "true or false",
                found: other.to_string(),
            }),
        }
    }
    fn to_config(&self) -> Config {
        let mut c = Config::defaults();
        for (k, v) in self {
            c.set(k.clone(), v.clone());
        }
        c
    }
}

/// Which plugin a service uses, and the key that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    Simple,
    DigestSasl,
    /// Storm's `TlsTransportPlugin` (supervisor and DRPC; see [`super::tls::server_for`]).
    Tls,
}

/// The plugin `conf` selects for `ty`, with the key it came from.
pub fn plugin<C: ConfLookup + ?Sized>(
    conf: &C,
    ty: ConnectionType,
) -> Result<(Plugin, &'static str), TransportConfigError> {
    let (key, value) = match conf.string(ty.transport_key())? {
        Some(v) => (ty.transport_key(), v),
        None => (
            TRANSPORT_KEY,
            conf.string(TRANSPORT_KEY)?
                .unwrap_or_else(|| SIMPLE_PLUGIN.to_string()),
        ),
    };
    let p = match value.as_str() {
        SIMPLE_PLUGIN | "backtype.storm.security.auth.SimpleTransportPlugin" => Plugin::Simple,
        DIGEST_PLUGIN | "backtype.storm.security.auth.digest.DigestSaslTransportPlugin" => {
            Plugin::DigestSasl
        }
        TLS_PLUGIN if ty == ConnectionType::Nimbus => {
            return Err(TransportConfigError::TlsForNimbus { key })
        }
        TLS_PLUGIN => Plugin::Tls,
        other => {
            return Err(TransportConfigError::Unsupported {
                key,
                value: other.to_string(),
            })
        }
    };
    Ok((p, key))
}

fn login_file<C: ConfLookup + ?Sized>(
    conf: &C,
    key: &'static str,
    section: &'static str,
) -> Result<PathBuf, TransportConfigError> {
    match conf.string(LOGIN_CONFIG_KEY)? {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(TransportConfigError::NoLoginFile { key, section }),
    }
}

/// Whether clients of `ty` use TLS by `<service>.thrift.client.use.tls` (nimbus:
/// `nimbus.thrift.client.use.tls`, supervisor: `supervisor.thrift.client.use.tls`, both DRPC ports:
/// `drpc.thrift.client.use.tls`).
pub fn client_uses_tls<C: ConfLookup + ?Sized>(
    conf: &C,
    ty: ConnectionType,
) -> Result<bool, TransportConfigError> {
    Ok(conf
        .boolean(TlsService::of(ty).use_tls_key())?
        .unwrap_or(false))
}

/// What a server does with each new connection before serving it.
#[derive(Clone, Default)]
pub enum ServerTransport {
    #[default]
    Simple,
    DigestSasl {
        users: BTreeMap<String, String>,
        jaas: PathBuf,
    },
}

impl ServerTransport {
    /// The transport `conf` selects for `ty`; the JAAS file is read now, so a bad one stops the
    /// daemon at startup.
    pub fn from_conf<C: ConfLookup + ?Sized>(
        conf: &C,
        ty: ConnectionType,
    ) -> Result<ServerTransport, TransportConfigError> {
        match plugin(conf, ty)? {
            // The TLS layer itself is `ServerOptions::tls` (`tls::server_for`).
            (Plugin::Simple | Plugin::Tls, _) => Ok(ServerTransport::Simple),
            (Plugin::DigestSasl, key) => {
                let jaas = login_file(conf, key, super::jaas::SERVER_SECTION)?;
                let users = JaasConfig::load(&jaas)?.server_users()?;
                if users.is_empty() {
                    tracing::warn!(file = %jaas.display(), "the StormServer section has no user_<name> entries: nobody can authenticate");
                }
                Ok(ServerTransport::DigestSasl { users, jaas })
            }
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            ServerTransport::Simple => "SimpleTransportPlugin",
            ServerTransport::DigestSasl { .. } => "DigestSaslTransportPlugin",
        }
    }

    /// Authenticates a new connection within `deadline`: the principal (`None` on a plain
    /// transport), or why the connection is refused.
    pub fn accept(
        &self,
        stream: &TcpStream,
        deadline: Duration,
    ) -> Result<Option<String>, SaslError> {
        match self {
            ServerTransport::Simple => Ok(None),
            ServerTransport::DigestSasl { users, .. } => {
                let mut io = DeadlineIo::new(stream, deadline);
                let user = sasl::server_handshake(&mut io, |u| users.get(u).cloned())?;
                Ok(Some(user))
            }
        }
    }
}

// Passwords stay out of logs: Debug shows user names and files only.
impl std::fmt::Debug for ServerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerTransport::Simple => f.write_str("Simple"),
            ServerTransport::DigestSasl { users, jaas } => f
                .debug_struct("DigestSasl")
                .field("users", &users.keys().collect::<Vec<_>>())
                .field("jaas", jaas)
                .finish(),
        }
    }
}

impl std::fmt::Debug for ClientTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientTransport::Simple => f.write_str("Simple"),
            ClientTransport::DigestSasl { username, jaas, .. } => f
                .debug_struct("DigestSasl")
                .field("username", username)
                .field("jaas", jaas)
                .finish(),
            ClientTransport::Tls(t) => t.fmt(f),
        }
    }
}

/// A socket whose reads and writes must all finish before one deadline (a slow or silent peer
/// cannot stretch a handshake by trickling bytes).
pub(crate) struct DeadlineIo<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl<'a> DeadlineIo<'a> {
    pub(crate) fn new(stream: &'a TcpStream, within: Duration) -> Self {
        DeadlineIo {
            stream,
            until: Instant::now() + within,
        }
    }

    fn arm(&self, write: bool) -> std::io::Result<()> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the authentication handshake took too long",
            ));
        }
        if write {
            self.stream.set_write_timeout(Some(left))
        } else {
            self.stream.set_read_timeout(Some(left))
        }
    }
}

impl DeadlineIo<'_> {
    /// Looks at the next bytes without consuming them (waiting at most until the deadline).
    pub(crate) fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm(false)?;
        self.stream.peek(buf)
    }
}

impl Read for DeadlineIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm(false)?;
        let mut s = self.stream;
        s.read(buf)
    }
}

impl Write for DeadlineIo<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.arm(true)?;
        let mut s = self.stream;
        s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut s = self.stream;
        s.flush()
    }
}

/// What a client does on each new socket before speaking Thrift.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ClientTransport {
    #[default]
    Simple,
    DigestSasl {
        username: String,
        password: String,
        /// The JAAS file the credentials came from (named in errors).
        jaas: PathBuf,
        /// The key that selected the plugin (named in errors).
        key: &'static str,
    },
    /// TLS (`nimbus.thrift.client.use.tls`): unframed binary Thrift in a TLS session, made by
    /// `client::connect`.
    Tls(super::tls::TlsClient),
}

impl ClientTransport {
    /// What Storm's `NimbusClient` speaks: TLS to `nimbus.thrift.tls.port` when
    /// `nimbus.thrift.client.use.tls` is true, else [`ClientTransport::from_conf`] to
    /// `nimbus.thrift.port`. Returns the transport, the port and the key that named it.
    pub fn nimbus(
        conf: &Config,
    ) -> Result<(ClientTransport, u16, &'static str), TransportConfigError> {
        use super::tls::{TlsClient, TlsService, NIMBUS_CLIENT_USE_TLS, NIMBUS_TLS_PORT};
        let use_tls = match conf.get(NIMBUS_CLIENT_USE_TLS) {
            None | Some(serde_json::Value::Null) => false,
            Some(_) => conf.get_bool(NIMBUS_CLIENT_USE_TLS)?,
        };
        if !use_tls {
            let port = conf.get_port("nimbus.thrift.port")?;
            return Ok((
                ClientTransport::from_conf(conf, ConnectionType::Nimbus)?,
                port,
                "nimbus.thrift.port",
            ));
        }
        let port = super::tls::nimbus_tls_port(conf)?;
        if port == 0 {
            return Err(TransportConfigError::Tls(super::tls::TlsConfigError::Missing {
                key: NIMBUS_TLS_PORT.to_string(),
                why: format!("{NIMBUS_CLIENT_USE_TLS} is true, so clients need nimbus's TLS port (it is 0)"),
            }));
        }
        let tls = TlsClient::from_conf(conf, TlsService::Nimbus)?;
        Ok((ClientTransport::Tls(tls), port, NIMBUS_TLS_PORT))
    }

    /// The transport `conf` selects for talking to `ty`; the JAAS file's `StormClient` section is
    /// read now.
    pub fn from_conf<C: ConfLookup + ?Sized>(
        conf: &C,
        ty: ConnectionType,
    ) -> Result<ClientTransport, TransportConfigError> {
        let plugin = plugin(conf, ty)?;
        if ty != ConnectionType::Nimbus && (plugin.0 == Plugin::Tls || client_uses_tls(conf, ty)?) {
            let tls = super::tls::TlsClient::from_conf(&conf.to_config(), TlsService::of(ty))?;
            return Ok(ClientTransport::Tls(tls));
        }
        match plugin {
            (Plugin::Simple | Plugin::Tls, _) => Ok(ClientTransport::Simple),
            (Plugin::DigestSasl, key) => {
                let jaas = login_file(conf, key, super::jaas::CLIENT_SECTION)?;
                let (username, password) = JaasConfig::load(&jaas)?.client_credentials()?;
                Ok(ClientTransport::DigestSasl {
                    username,
                    password,
                    jaas,
                    key,
                })
            }
        }
    }

    /// Authenticates `stream` (connected to `host`) as the configured user; errors name what to fix.
    pub fn handshake(&self, stream: &TcpStream, host: &str) -> std::io::Result<()> {
        match self {
            ClientTransport::Simple => Ok(()),
            ClientTransport::Tls(_) => Err(std::io::Error::other(
                "a TLS connection is made by client::connect, not on a plain socket",
            )),
            ClientTransport::DigestSasl {
                username,
                password,
                jaas,
                key,
            } => {
                let mut s = stream;
                sasl::client_handshake(&mut s, username, password, host).map_err(|e| {
                    let hint = match &e {
                        SaslError::PeerRefused(_) | SaslError::Digest(_) => format!(
                            "check username and password in the StormClient section of {} ({LOGIN_CONFIG_KEY})",
                            jaas.display()
                        ),
                        SaslError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => format!(
                            "the server closed the connection during the SASL handshake: does it use {key} = {DIGEST_PLUGIN}? (a {SIMPLE_PLUGIN} server drops SASL clients)"
                        ),
                        _ => format!("{key} = {DIGEST_PLUGIN} must match the server's transport"),
                    };
                    std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!("SASL DIGEST-MD5 authentication as '{username}' failed: {e}; {hint}"),
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tls::DRPC_CLIENT_USE_TLS as DRPC_USE_TLS;
    use super::*;

    fn conf_with(kv: &[(&str, &str)]) -> Config {
        let mut c = Config::defaults();
        for (k, v) in kv {
            c.set(*k, serde_json::Value::String((*v).into()));
        }
        c
    }

    #[test]
    fn per_service_key_wins_and_unknown_plugins_are_named() {
        let c = conf_with(&[
            ("storm.thrift.transport", DIGEST_PLUGIN),
            ("drpc.thrift.transport", SIMPLE_PLUGIN),
        ]);
        assert_eq!(
            plugin(&c, ConnectionType::Nimbus).unwrap(),
            (Plugin::DigestSasl, TRANSPORT_KEY)
        );
        assert_eq!(
            plugin(&c, ConnectionType::Drpc).unwrap(),
            (Plugin::Simple, "drpc.thrift.transport")
        );
        assert_eq!(
            plugin(&Config::defaults(), ConnectionType::Nimbus)
                .unwrap()
                .0,
            Plugin::Simple
        );
        let c = conf_with(&[(
            "storm.thrift.transport",
            "org.apache.storm.security.auth.kerberos.KerberosSaslTransportPlugin",
        )]);
        let e = plugin(&c, ConnectionType::Nimbus).unwrap_err().to_string();
        assert!(
            e.contains("KerberosSaslTransportPlugin") && e.contains("not supported"),
            "{e}"
        );
        let c = conf_with(&[("storm.thrift.transport", DIGEST_PLUGIN)]);
        let e = ClientTransport::from_conf(&c, ConnectionType::Nimbus)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(LOGIN_CONFIG_KEY) && e.contains("StormClient"),
            "{e}"
        );
    }

    #[test]
    fn tls_plugin_selects_tls_for_supervisor_and_drpc_only() {
        let c = conf_with(&[(TRANSPORT_KEY, TLS_PLUGIN)]);
        assert_eq!(
            plugin(&c, ConnectionType::Supervisor).unwrap(),
            (Plugin::Tls, TRANSPORT_KEY)
        );
        assert_eq!(
            plugin(&c, ConnectionType::DrpcInvocations).unwrap(),
            (Plugin::Tls, TRANSPORT_KEY)
        );
        let e = plugin(&c, ConnectionType::Nimbus).unwrap_err().to_string();
        assert!(e.contains("nimbus.thrift.tls.port"), "{e}");
        // The TLS layer is separate: the SASL-level server transport stays simple.
        assert!(matches!(
            ServerTransport::from_conf(&c, ConnectionType::Drpc).unwrap(),
            ServerTransport::Simple
        ));
        // A TLS server needs its keystore: the error names the key and what turned TLS on.
        let c = conf_with(&[("supervisor.thrift.transport", TLS_PLUGIN)]);
        let e = super::super::tls::server_for(&c, ConnectionType::Supervisor)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("supervisor.thrift.tls.server.keystore.path")
                && e.contains("supervisor.thrift.transport"),
            "{e}"
        );
        assert!(super::super::tls::server_for(&c, ConnectionType::Drpc)
            .unwrap()
            .is_none());
        assert!(super::super::tls::server_for(&c, ConnectionType::Nimbus)
            .unwrap()
            .is_none());
    }

    #[test]
    fn client_use_tls_keys_per_service() {
        let mut m = serde_json::Map::new();
        assert!(!client_uses_tls(&m, ConnectionType::Drpc).unwrap());
        m.insert(
            DRPC_USE_TLS.into(),
            serde_json::Value::String("TRUE".into()),
        );
        assert!(client_uses_tls(&m, ConnectionType::Drpc).unwrap());
        assert!(client_uses_tls(&m, ConnectionType::DrpcInvocations).unwrap());
        assert!(!client_uses_tls(&m, ConnectionType::Supervisor).unwrap());
        // A TLS client needs a trust store: the error names the key and the switch.
        let e = ClientTransport::from_conf(&m, ConnectionType::DrpcInvocations)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("drpc.thrift.tls.client.truststore.path") && e.contains(DRPC_USE_TLS),
            "{e}"
        );
        m.insert(DRPC_USE_TLS.into(), serde_json::Value::from(3));
        let e = client_uses_tls(&m, ConnectionType::Drpc)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(DRPC_USE_TLS) && e.contains("true or false"),
            "{e}"
        );
        let mut c = Config::defaults();
        c.set("supervisor.thrift.client.use.tls", true);
        let e = ClientTransport::from_conf(&c, ConnectionType::Supervisor)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("supervisor.thrift.tls.client.truststore.path"),
            "{e}"
        );
        // Off by default; nimbus keeps its own switch (ClientTransport::nimbus).
        assert!(
            ClientTransport::from_conf(&Config::defaults(), ConnectionType::Supervisor)
                .is_ok_and(|t| t == ClientTransport::Simple)
        );
        c.set("nimbus.thrift.client.use.tls", true);
        assert!(ClientTransport::from_conf(&c, ConnectionType::Nimbus)
            .is_ok_and(|t| t == ClientTransport::Simple));
    }
}

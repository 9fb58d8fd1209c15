//! Clients of Storm's Thrift services: framed transport, binary protocol, as Storm's
//! `SimpleTransportPlugin` speaks it, after the handshake of the configured transport
//! ([`ClientTransport`]: `storm.thrift.transport`, e.g. SASL DIGEST-MD5, whose data frames are the
//! same frames); or, with [`ClientTransport::Tls`] (`nimbus.thrift.client.use.tls`), unframed binary
//! Thrift in a TLS session, as Storm's `TlsTransportPlugin`. Every connection of ours is made by
//! [`connect_limited`], the one place that applies the transport. A plain connection whose reply
//! starts with a TLS record (a TLS port) fails with an error naming the TLS keys.
//!
//! [`NimbusClient::connect_leader`] does what Storm's `NimbusClient` does: ask each host of `nimbus.seeds`
//! for the leader (`getLeader`) and connect to that one. When no seed answers, the error lists every seed
//! tried and why it failed, and names the keys to check.

pub mod blobs;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use std::io::{BufWriter, Read, Write};
use thrift::protocol::TBinaryOutputProtocol;

use thrift::transport::{TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel};

use crate::config::{Config, ConfigError};
use crate::security::transport::TransportConfigError;
pub use crate::security::{ClientTransport, ConnectionType};
use crate::thrift::{
    BoundedBinaryInputProtocol, NimbusSummary, NimbusSyncClient, TNimbusSyncClient,
};

/// The input protocol of a binary Thrift connection (framed, or a TLS session); sizes read from the
/// wire are bounded, so a hostile or corrupt reply is an error, never a huge allocation.
pub type InProto = BoundedBinaryInputProtocol<Box<dyn Read + Send>>;
/// The output protocol of a binary Thrift connection (framed, or a TLS session).
pub type OutProto = TBinaryOutputProtocol<Box<dyn Write + Send>>;

/// How long to wait for a TCP connection to a Thrift server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NimbusClientError {
    #[error(
        "could not find a leader nimbus from seed hosts [{}]: {}; check nimbus.seeds and {port_key}, and that nimbus is running",
        seeds.join(", "),
        tried.join("; ")
    )]
    LeaderNotFound {
        seeds: Vec<String>,
        tried: Vec<String>,
        /// The port key the seeds were tried on (`nimbus.thrift.port` or `nimbus.thrift.tls.port`).
        port_key: &'static str,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error(
        "nimbus at {addr}: {}{}",
        thrift_error_text(source),
        transport_hint(source)
    )]
    Thrift { addr: String, source: thrift::Error },
    #[error(transparent)]
    Transport(#[from] TransportConfigError),
    #[error("nimbus at {addr} returned a configuration that is not a JSON object: {message}")]
    BadConf { addr: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// The largest reply accepted from a Thrift server (Storm's `nimbus.thrift.max_buffer_size` default).
pub const MAX_REPLY_BYTES: usize = 1_048_576;

/// A hint for transport-level failures: a server speaking another transport closes the connection
/// or answers bytes that are no Thrift reply.
pub fn transport_hint(e: &thrift::Error) -> &'static str {
    match e {
        // Our own TLS diagnoses already name the keys.
        thrift::Error::Transport(t) if t.message.contains("TLS") => "",
        thrift::Error::Transport(_) | thrift::Error::Protocol(_) => {
            "; if the server uses another transport, set storm.thrift.transport (and java.security.auth.login.config) to match it, or for nimbus's TLS port (nimbus.thrift.tls.port) nimbus.thrift.client.use.tls and the nimbus.thrift.tls.client.* keys"
        }
        _ => "",
    }
}

/// `e` with the message of a transport error (thrift's `Display` shows only its kind).
pub fn thrift_error_text(e: &thrift::Error) -> String {
    match e {
        thrift::Error::Transport(t) if !t.message.is_empty() => format!("{t}: {}", t.message),
        other => other.to_string(),
    }
}

/// Opens a framed binary Thrift connection to `addr` (`host:port`), with `read_timeout` on replies,
/// authenticated by `transport`.
pub fn connect(
    addr: &str,
    read_timeout: Duration,
    transport: &ClientTransport,
) -> Result<(InProto, OutProto), std::io::Error> {
    connect_limited(addr, read_timeout, MAX_REPLY_BYTES, transport)
}

/// [`connect`] accepting replies of up to `max_reply_bytes` (the UI reads the stats of every
/// executor of big topologies, which are over [`MAX_REPLY_BYTES`]).
pub fn connect_limited(
    addr: &str,
    read_timeout: Duration,
    max_reply_bytes: usize,
    transport: &ClientTransport,
) -> Result<(InProto, OutProto), std::io::Error> {
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for sock in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&sock, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(read_timeout))?;
                stream.set_write_timeout(Some(read_timeout))?;
                stream.set_nodelay(true)?;
                if let ClientTransport::Tls(tls) = transport {
                    let session = tls.handshake(stream, host, addr)?;
                    let (r, w) = crate::security::tls::SharedTls::split(session, tls.clone(), addr);
                    let r: Box<dyn Read + Send> = Box::new(r);
                    let w: Box<dyn Write + Send> = Box::new(BufWriter::new(w));
                    return Ok((
                        BoundedBinaryInputProtocol::for_messages(r, false, max_reply_bytes),
                        TBinaryOutputProtocol::new(w, true),
                    ));
                }
                transport.handshake(&stream, host)?;
                let channel = TTcpChannel::with_stream(stream);
                let (r, w) = channel.split().map_err(std::io::Error::other)?;
                let r: Box<dyn Read + Send> = Box::new(TFramedReadTransport::new(SniffTls {
                    inner: r,
                    first: None,
                    addr: addr.to_string(),
                }));
                let w: Box<dyn Write + Send> = Box::new(TFramedWriteTransport::new(w));
                return Ok((
                    BoundedBinaryInputProtocol::for_messages(r, false, max_reply_bytes),
                    TBinaryOutputProtocol::new(w, true),
                ));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The read half of a plain connection, checking the first two bytes of the first reply: a TLS
/// record there means the port is a TLS port, which is reported with the keys to fix instead of
/// being read as a huge frame length.
struct SniffTls<R> {
    inner: R,
    /// The first bytes, once read, and how many of them were handed out.
    first: Option<([u8; 2], usize)>,
    addr: String,
}

impl<R: Read> Read for SniffTls<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.first.is_none() {
            let mut head = [0u8; 2];
            self.inner.read_exact(&mut head)?;
            if crate::security::tls::looks_like_tls(&head) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} answered with TLS: it is a TLS port (nimbus.thrift.tls.port, or a supervisor/DRPC port whose *.thrift.transport is TlsTransportPlugin); set the service's client key (nimbus.thrift.client.use.tls, supervisor.thrift.client.use.tls or drpc.thrift.client.use.tls) to true with its *.thrift.tls.client.* keys, or connect to a plain port",
                        self.addr
                    ),
                ));
            }
            self.first = Some((head, 0));
        }
        if let Some((head, used)) = &mut self.first {
            if *used < head.len() && !buf.is_empty() {
                let n = (head.len() - *used).min(buf.len());
                buf[..n].copy_from_slice(&head[*used..*used + n]);
                *used += n;
                return Ok(n);
            }
        }
        self.inner.read(buf)
    }
}

/// How to reach the nimbus whose plain Thrift address is `plain_addr` (`host:port`, as ZooKeeper's
/// `/leader-lock` and `/nimbuses` name nimbuses): with `nimbus.thrift.client.use.tls`, TLS to that
/// host's TLS port — `advertised_tls_port` (the `tlsPort` the nimbus registered in `/nimbuses`)
/// when known, else this configuration's `nimbus.thrift.tls.port` — and otherwise `plain_addr`
/// with `nimbus.thrift.transport`. A nimbus serving TLS only (`nimbus.thrift.tls.server.only`) is
/// reachable only the first way.
pub fn nimbus_peer(
    conf: &Config,
    plain_addr: &str,
    advertised_tls_port: Option<i32>,
) -> Result<(ClientTransport, String), crate::security::transport::TransportConfigError> {
    let (transport, conf_port, _) = ClientTransport::nimbus(conf)?;
    if !matches!(transport, ClientTransport::Tls(_)) {
        return Ok((transport, plain_addr.to_string()));
    }
    Ok((
        transport,
        tls_peer_addr(plain_addr, advertised_tls_port, conf_port),
    ))
}

/// `plain_addr`'s host with the advertised TLS port when it is a port, else `conf_port`.
fn tls_peer_addr(plain_addr: &str, advertised: Option<i32>, conf_port: u16) -> String {
    let port = advertised
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(conf_port);
    let host = plain_addr
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(plain_addr);
    format!("{host}:{port}")
}

/// A connection to the leader nimbus.
pub struct NimbusClient {
    addr: String,
    client: NimbusSyncClient<InProto, OutProto>,
}

impl NimbusClient {
    /// Connects to nimbus at `addr` (no leader check), authenticated by `transport`.
    pub fn connect(
        addr: &str,
        read_timeout: Duration,
        transport: &ClientTransport,
    ) -> Result<NimbusClient, NimbusClientError> {
        NimbusClient::connect_limited(addr, read_timeout, MAX_REPLY_BYTES, transport)
    }

    /// Connects to nimbus at `addr`, accepting replies of up to `max_reply_bytes`.
    pub fn connect_limited(
        addr: &str,
        read_timeout: Duration,
        max_reply_bytes: usize,
        transport: &ClientTransport,
    ) -> Result<NimbusClient, NimbusClientError> {
        let (i, o) =
            connect_limited(addr, read_timeout, max_reply_bytes, transport).map_err(|source| {
                NimbusClientError::Connect {
                    addr: addr.to_string(),
                    source,
                }
            })?;
        Ok(NimbusClient {
            addr: addr.to_string(),
            client: NimbusSyncClient::new(i, o),
        })
    }

    /// Finds the leader through `nimbus.seeds` + `getLeader` and connects to it.
    pub fn connect_leader(conf: &Config) -> Result<NimbusClient, NimbusClientError> {
        NimbusClient::connect_leader_limited(conf, MAX_REPLY_BYTES)
    }

    /// [`NimbusClient::connect_leader`] accepting replies of up to `max_reply_bytes`.
    pub fn connect_leader_limited(
        conf: &Config,
        max_reply_bytes: usize,
    ) -> Result<NimbusClient, NimbusClientError> {
        let seeds = conf.get_string_list("nimbus.seeds")?;
        let (transport, port, port_key) = ClientTransport::nimbus(conf)?;
        let use_tls = matches!(transport, ClientTransport::Tls(_));
        let timeout_key = if use_tls && conf.contains(crate::security::tls::TLS_SOCKET_TIMEOUT) {
            crate::security::tls::TLS_SOCKET_TIMEOUT
        } else {
            "storm.thrift.socket.timeout.ms"
        };
        let timeout = Duration::from_millis(conf.get_u64(timeout_key)?);
        let mut tried = Vec::new();
        for seed in &seeds {
            let addr = if seed.contains(':') {
                seed.clone()
            } else {
                format!("{seed}:{port}")
            };
            let leader = NimbusClient::connect_limited(&addr, timeout, max_reply_bytes, &transport)
                .and_then(|mut c| {
                    let leader = c.leader()?;
                    Ok((c, leader))
                });
            match leader {
                Ok((c, leader)) => {
                    let leader_port = if use_tls {
                        match leader.tls_port.filter(|p| *p > 0) {
                            Some(p) => p,
                            None => {
                                tried.push(format!(
                                    "{addr} named leader {}:{}, which serves no TLS port ({port_key} = 0 there)",
                                    leader.host, leader.port
                                ));
                                continue;
                            }
                        }
                    } else {
                        leader.port
                    };
                    let leader_addr = format!("{}:{}", leader.host, leader_port);
                    if leader_addr == addr
                        || (leader_port == i32::from(port) && is_same_host(&leader.host, seed))
                    {
                        return Ok(c);
                    }
                    match NimbusClient::connect_limited(
                        &leader_addr,
                        timeout,
                        max_reply_bytes,
                        &transport,
                    ) {
                        Ok(c) => return Ok(c),
                        Err(e) => tried.push(format!(
                            "{addr} named leader {leader_addr}, which failed: {e}"
                        )),
                    }
                }
                Err(e) => tried.push(format!("{addr}: {}", short_reason(&e))),
            }
        }
        Err(NimbusClientError::LeaderNotFound {
            seeds,
            tried,
            port_key,
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut NimbusSyncClient<InProto, OutProto>) -> thrift::Result<T>,
    ) -> Result<T, NimbusClientError> {
        f(&mut self.client).map_err(|source| NimbusClientError::Thrift {
            addr: self.addr.clone(),
            source,
        })
    }

    /// `getLeader`.
    pub fn leader(&mut self) -> Result<NimbusSummary, NimbusClientError> {
        self.call(|c| c.get_leader())
    }

    /// `getNimbusConf`, parsed.
    pub fn nimbus_conf(
        &mut self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, NimbusClientError> {
        let json = self.call(|c| c.get_nimbus_conf())?;
        serde_json::from_str(&json).map_err(|e| NimbusClientError::BadConf {
            addr: self.addr.clone(),
            message: e.to_string(),
        })
    }

    /// The raw generated client, for calls without a wrapper here.
    pub fn raw(&mut self) -> &mut NimbusSyncClient<InProto, OutProto> {
        &mut self.client
    }
}

fn is_same_host(a: &str, b: &str) -> bool {
    let local = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1");
    a == b || (local(a) && local(b))
}

fn short_reason(e: &NimbusClientError) -> String {
    match e {
        NimbusClientError::Connect { source, .. } => source.to_string(),
        NimbusClientError::Thrift { source, .. } => {
            format!("{}{}", thrift_error_text(source), transport_hint(source))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nimbus_peers_are_reached_on_the_plain_port_without_tls() {
        let conf = Config::defaults();
        let (t, addr) = nimbus_peer(&conf, "nimbus1:6627", None).unwrap();
        assert_eq!(
            (t, addr.as_str()),
            (ClientTransport::Simple, "nimbus1:6627")
        );
        // With TLS the trust store is needed: the error names the key.
        let mut conf = conf;
        conf.set("nimbus.thrift.client.use.tls", true);
        conf.set("nimbus.thrift.tls.port", 6067);
        let e = nimbus_peer(&conf, "nimbus1:6627", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nimbus.thrift.tls.client.truststore.path"),
            "{e}"
        );
    }
}

//! Clients of Storm's Thrift services: framed transport, binary protocol, as Storm's
//! `SimpleTransportPlugin` speaks it, after the handshake of the configured transport
//! ([`ClientTransport`]: `storm.thrift.transport`, e.g. SASL DIGEST-MD5, whose data frames are the
//! same frames). Every connection of ours is made by [`connect_limited`], the one place that applies
//! the transport.
//!
//! [`NimbusClient::connect_leader`] does what Storm's `NimbusClient` does: ask each host of `nimbus.seeds`
//! for the leader (`getLeader`) and connect to that one. When no seed answers, the error lists every seed
//! tried and why it failed, and names the keys to check.

pub mod blobs;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use thrift::protocol::TBinaryOutputProtocol;
use thrift::transport::{
    ReadHalf, TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel, WriteHalf,
};

use crate::config::{Config, ConfigError};
use crate::security::transport::TransportConfigError;
pub use crate::security::{ClientTransport, ConnectionType};
use crate::thrift::{
    BoundedBinaryInputProtocol, NimbusSummary, NimbusSyncClient, TNimbusSyncClient,
};

/// The input protocol of a framed binary Thrift connection; sizes read from the wire are bounded, so a
/// hostile or corrupt reply is an error, never a huge allocation.
pub type InProto = BoundedBinaryInputProtocol<TFramedReadTransport<ReadHalf<TTcpChannel>>>;
/// The output protocol of a framed binary Thrift connection.
pub type OutProto = TBinaryOutputProtocol<TFramedWriteTransport<WriteHalf<TTcpChannel>>>;

/// How long to wait for a TCP connection to a Thrift server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NimbusClientError {
    #[error(
        "could not find a leader nimbus from seed hosts [{}]: {}; check nimbus.seeds and nimbus.thrift.port, and that nimbus is running",
        seeds.join(", "),
        tried.join("; ")
    )]
    LeaderNotFound {
        seeds: Vec<String>,
        tried: Vec<String>,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("nimbus at {addr}: {source}{}", transport_hint(source))]
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
        thrift::Error::Transport(_) | thrift::Error::Protocol(_) => {
            "; if the server uses another transport, set storm.thrift.transport (and java.security.auth.login.config) to match it"
        }
        _ => "",
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
                transport.handshake(&stream, host)?;
                let channel = TTcpChannel::with_stream(stream);
                let (r, w) = channel.split().map_err(std::io::Error::other)?;
                return Ok((
                    BoundedBinaryInputProtocol::for_messages(
                        TFramedReadTransport::new(r),
                        false,
                        max_reply_bytes,
                    ),
                    TBinaryOutputProtocol::new(TFramedWriteTransport::new(w), true),
                ));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
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
        let port = conf.get_port("nimbus.thrift.port")?;
        let timeout = Duration::from_millis(conf.get_u64("storm.thrift.socket.timeout.ms")?);
        let transport = ClientTransport::from_conf(conf, ConnectionType::Nimbus)?;
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
                    let leader_addr = format!("{}:{}", leader.host, leader.port);
                    if leader_addr == addr
                        || (leader.port == i32::from(port) && is_same_host(&leader.host, seed))
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
        Err(NimbusClientError::LeaderNotFound { seeds, tried })
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
        NimbusClientError::Thrift { source, .. } => format!("{source}{}", transport_hint(source)),
        other => other.to_string(),
    }
}

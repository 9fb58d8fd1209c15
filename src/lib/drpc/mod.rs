//! The `drpc` daemon: Storm's distributed RPC server (`DRPCServer` + `DRPC.java`).
//!
//! Three endpoints share one [`Drpc`] core (see [`server`] for the request semantics):
//!
//! | Endpoint | Key (default) | Served by |
//! |---|---|---|
//! | `DistributedRPC` (clients: `execute`) | `drpc.port` (3772) | [`ThriftServer`], framed binary, frames ≤ `drpc.max_buffer_size`, at most `drpc.worker.threads` + `drpc.queue.size` connections |
//! | `DistributedRPCInvocations` (topologies: `fetchRequest`, `result`, `failRequest`, `failRequestV2`) | `drpc.invocations.port` (3773) | [`ThriftServer`], at most `drpc.invocations.threads` connections |
//! | HTTP `GET/POST /drpc/<func>…` | `drpc.http.port` (3774; ≤ 0 turns it off) | [`http::HttpServer`] |
//!
//! [`main`] runs the daemon in the foreground until SIGTERM or SIGINT, then fails every outstanding
//! request with `SERVER_SHUTDOWN`, stops the endpoints and returns (exit status 0).
//!
//! `drpc.authorizer` (see [`crate::security::drpc_acl`]) checks `execute` on both the Thrift and the
//! HTTP endpoint and `fetchRequest`/`result`/`failRequest[V2]` on the invocations endpoint, as Storm's
//! `DRPC` does (an answer for an unknown id is ignored unchecked); a refusal is Storm's
//! `AuthorizationException` (HTTP: 403). `drpc.http.filter` asks HTTP callers for credentials
//! ([`crate::security::http_auth`]); the HTTP user is then the principal the authorizer sees.
//!
//! Differences from Storm: no HTTPS (`drpc.https.port` > 0 is logged and ignored); requests time out at exactly
//! `drpc.request.timeout.secs` instead of within `[T, 1.5T]`; `drpc.queue.size` bounds the unfetched
//! requests of each function rather than the Thrift server's call queue.

pub mod http;
pub mod server;
pub mod topology;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::daemon::DaemonArgs;
use crate::security::drpc_acl::DrpcAuthorizer;
use crate::security::http_auth::BasicAuth;
use crate::thrift::server::{ServerOptions, ThriftServer};
use crate::thrift::{
    AuthorizationException, DRPCExecutionException, DRPCRequest,
    DistributedRPCInvocationsSyncHandler, DistributedRPCInvocationsSyncProcessor,
    DistributedRPCSyncHandler, DistributedRPCSyncProcessor,
};

pub use http::HttpServer;
pub use server::Drpc;

/// How long shutdown waits for HTTP clients to receive their `503` before closing everything.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

impl Drpc {
    /// A core configured from `drpc.request.timeout.secs` and `drpc.queue.size`.
    pub fn from_config(conf: &Config) -> Result<Drpc, ConfigError> {
        let timeout = Duration::from_secs(conf.get_u64("drpc.request.timeout.secs")?);
        let queue = usize::try_from(conf.get_u64("drpc.queue.size")?).unwrap_or(usize::MAX);
        Ok(Drpc::new(timeout, queue))
    }
}

type Authz = Option<Arc<DrpcAuthorizer>>;

/// Storm's `AuthorizationException` when `authz` refuses `operation` on `function`.
fn authorize(authz: &Authz, operation: &str, function: &str) -> thrift::Result<()> {
    match authz {
        Some(a) => a
            .check(operation, function)
            .map_err(|msg| thrift::Error::User(Box::new(AuthorizationException::new(msg)))),
        None => Ok(()),
    }
}

/// `DistributedRPC` over the core.
pub struct ExecuteHandler(pub Arc<Drpc>, pub Authz);

impl DistributedRPCSyncHandler for ExecuteHandler {
    fn handle_execute(&self, function_name: String, func_args: String) -> thrift::Result<String> {
        authorize(&self.1, "execute", &function_name)?;
        self.0
            .execute(&function_name, &func_args)
            .map_err(|e| thrift::Error::User(Box::new(e)))
    }
}

/// `DistributedRPCInvocations` over the core.
pub struct InvocationsHandler(pub Arc<Drpc>, pub Authz);

impl InvocationsHandler {
    /// Checks `operation` against the function of request `id`; `false` when `id` is unknown.
    fn authorize_id(&self, operation: &str, id: &str) -> thrift::Result<bool> {
        if self.1.is_none() {
            return Ok(true);
        }
        match self.0.function_of(id) {
            Some(func) => authorize(&self.1, operation, &func).map(|_| true),
            None => Ok(false),
        }
    }
}

impl DistributedRPCInvocationsSyncHandler for InvocationsHandler {
    fn handle_result(&self, id: String, result: String) -> thrift::Result<()> {
        if self.authorize_id("result", &id)? {
            self.0.result(&id, result);
        }
        Ok(())
    }

    fn handle_fetch_request(&self, function_name: String) -> thrift::Result<DRPCRequest> {
        authorize(&self.1, "fetchRequest", &function_name)?;
        Ok(self.0.fetch_request(&function_name))
    }

    fn handle_fail_request(&self, id: String) -> thrift::Result<()> {
        if self.authorize_id("failRequest", &id)? {
            self.0.fail_request(&id);
        }
        Ok(())
    }

    fn handle_fail_request_v2(&self, id: String, e: DRPCExecutionException) -> thrift::Result<()> {
        if self.authorize_id("failRequest", &id)? {
            self.0.fail_request_v2(&id, e);
        }
        Ok(())
    }
}

/// A running DRPC server: the core and its three endpoints.
pub struct DrpcDaemon {
    drpc: Arc<Drpc>,
    rpc: ThriftServer,
    invocations: ThriftServer,
    http: Option<HttpServer>,
}

fn count(conf: &Config, key: &str) -> Result<usize, ConfigError> {
    Ok(usize::try_from(conf.get_u64(key)?)
        .unwrap_or(usize::MAX)
        .max(1))
}

fn bind_error(key: &str, port: u16, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot listen on {key} = {port} (0.0.0.0:{port}): {e}{}",
        if e.kind() == std::io::ErrorKind::AddrInUse {
            "; is another drpc (or another program) using this port? Set a free port with -c key=port"
        } else {
            ""
        }
    )
}

impl DrpcDaemon {
    /// Starts the three endpoints on all interfaces at the configured ports.
    pub fn start(conf: &Config) -> anyhow::Result<DrpcDaemon> {
        let drpc = Arc::new(Drpc::from_config(conf)?);
        let authz = DrpcAuthorizer::from_config(conf)?.map(Arc::new);
        if authz.is_some() {
            tracing::info!(authorizer = ?conf.get("drpc.authorizer"), "drpc.authorizer is on");
        }
        let max_frame = count(conf, "drpc.max_buffer_size")?;
        let port = conf.get_port("drpc.port")?;
        let transport =
            |ty| crate::security::ServerTransport::from_conf(conf, ty).map(std::sync::Arc::new);
        // TLS on drpc.port / drpc.invocations.port when their transport key names
        // TlsTransportPlugin (keys drpc.thrift.tls.*); bad certificate files stop the daemon here.
        let tls = |ty| -> anyhow::Result<_> {
            let server = crate::security::tls::server_for(conf, ty)?.map(std::sync::Arc::new);
            if server.is_some() {
                tracing::info!(service = ?ty, "DRPC Thrift port serves TLS only");
            }
            Ok(server)
        };
        let rpc_tls = tls(crate::security::ConnectionType::Drpc)?;
        let invocations_tls = tls(crate::security::ConnectionType::DrpcInvocations)?;
        let rpc = ThriftServer::start(
            "drpc",
            &format!("0.0.0.0:{port}"),
            DistributedRPCSyncProcessor::new(ExecuteHandler(drpc.clone(), authz.clone())),
            ServerOptions {
                max_frame_bytes: max_frame,
                max_connections: count(conf, "drpc.worker.threads")?
                    .saturating_add(count(conf, "drpc.queue.size")?),
                transport: transport(crate::security::ConnectionType::Drpc)?,
                tls: rpc_tls,
                ..ServerOptions::default()
            },
        )
        .map_err(|e| bind_error("drpc.port", port, e))?;
        let port = conf.get_port("drpc.invocations.port")?;
        let invocations = ThriftServer::start(
            "drpc-invocations",
            &format!("0.0.0.0:{port}"),
            DistributedRPCInvocationsSyncProcessor::new(InvocationsHandler(
                drpc.clone(),
                authz.clone(),
            )),
            ServerOptions {
                max_frame_bytes: max_frame,
                max_connections: count(conf, "drpc.invocations.threads")?,
                transport: transport(crate::security::ConnectionType::DrpcInvocations)?,
                tls: invocations_tls,
                ..ServerOptions::default()
            },
        )
        .map_err(|e| bind_error("drpc.invocations.port", port, e))?;
        let http_port = conf.get_i64("drpc.http.port")?;
        let http = if http_port > 0 {
            let port = conf.get_port("drpc.http.port")?;
            Some(
                HttpServer::start_secured(
                    &format!("0.0.0.0:{port}"),
                    drpc.clone(),
                    max_frame,
                    Arc::new(http::HttpSecurity {
                        auth: BasicAuth::from_config(
                            conf,
                            "drpc.http.filter",
                            "drpc.http.filter.params",
                            None,
                        )?,
                        authz: authz.clone(),
                    }),
                )
                .map_err(|e| bind_error("drpc.http.port", port, e))?,
            )
        } else {
            tracing::info!("drpc.http.port = {http_port}: the DRPC HTTP endpoint is off");
            None
        };
        if conf.get_i64("drpc.https.port").unwrap_or(-1) > 0 {
            tracing::warn!("drpc.https.port is set but storm-rs has no HTTPS endpoint; ignored");
        }
        Ok(DrpcDaemon {
            drpc,
            rpc,
            invocations,
            http,
        })
    }

    /// The shared core.
    pub fn drpc(&self) -> &Arc<Drpc> {
        &self.drpc
    }

    /// The bound `DistributedRPC` address.
    pub fn rpc_addr(&self) -> std::net::SocketAddr {
        self.rpc.local_addr()
    }

    /// The bound `DistributedRPCInvocations` address.
    pub fn invocations_addr(&self) -> std::net::SocketAddr {
        self.invocations.local_addr()
    }

    /// The bound HTTP address, when the HTTP endpoint is on.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// Fails every outstanding request with `SERVER_SHUTDOWN`, lets HTTP clients receive their answer
    /// (up to a short grace period), then stops every endpoint.
    pub fn shutdown(mut self) {
        self.drpc.shutdown();
        if let Some(http) = &self.http {
            if !http.drain(SHUTDOWN_GRACE) {
                tracing::warn!(
                    in_flight = http.in_flight(),
                    "DRPC HTTP requests still being answered at shutdown"
                );
            }
        }
        if let Some(mut http) = self.http.take() {
            http.shutdown();
        }
        self.rpc.shutdown();
        self.invocations.shutdown();
    }
}

/// The `drpc` daemon: loads the configuration, logs to `<storm.log.dir>/drpc.log`, serves until SIGTERM
/// or SIGINT, then shuts down cleanly and returns `Ok`.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    crate::daemon::run(
        "drpc",
        args,
        |conf| {
            let daemon = DrpcDaemon::start(conf)?;
            tracing::info!(
                rpc = %daemon.rpc_addr(),
                invocations = %daemon.invocations_addr(),
                http = ?daemon.http_addr(),
                timeout_secs = daemon.drpc().request_timeout().as_secs(),
                "drpc started"
            );
            Ok(daemon)
        },
        DrpcDaemon::shutdown,
    )
}

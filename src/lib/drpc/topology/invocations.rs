//! [`Invocations`]: one `DistributedRPCInvocations` endpoint as the topology components use it — a
//! [`LocalDRPC`](super::LocalDRPC) in this process, or a DRPC server over framed binary Thrift that is
//! connected lazily and reconnected after any error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{ClientTransport, InProto, OutProto};
use crate::drpc::Drpc;
use crate::thrift::{
    DRPCExceptionType, DRPCExecutionException, DRPCRequest, DistributedRPCInvocationsSyncClient,
    TDistributedRPCInvocationsSyncClient,
};

use super::local::{local_service, LOCAL_HOST_PREFIX};

/// How long a failed connection attempt keeps the endpoint from trying again.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// `"<msg> (<TYPE>)"` for a DRPC exception (the generated `Display` says nothing useful).
pub fn describe_exception(e: &DRPCExecutionException) -> String {
    let kind = match e.type_ {
        Some(DRPCExceptionType::INTERNAL_ERROR) => "INTERNAL_ERROR",
        Some(DRPCExceptionType::SERVER_SHUTDOWN) => "SERVER_SHUTDOWN",
        Some(DRPCExceptionType::SERVER_TIMEOUT) => "SERVER_TIMEOUT",
        Some(DRPCExceptionType::FAILED_REQUEST) => "FAILED_REQUEST",
        Some(_) => "UNKNOWN",
        None => "no type",
    };
    format!("{} ({kind})", e.msg)
}

enum Endpoint {
    Local {
        service: String,
        drpc: Option<Arc<Drpc>>,
    },
    Remote {
        addr: String,
        timeout: Duration,
        transport: Box<ClientTransport>,
        client: Option<DistributedRPCInvocationsSyncClient<InProto, OutProto>>,
        retry_at: Option<Instant>,
    },
}

/// One DRPC server's invocations endpoint. Every call returns an error instead of panicking; a remote
/// connection that failed is dropped and opened again on the next call (not before a short back-off
/// after a failed connection attempt).
pub struct Invocations {
    host: String,
    port: u16,
    endpoint: Endpoint,
}

impl Invocations {
    /// The endpoint for `host` and `port`: a [`LocalDRPC`](super::LocalDRPC) when `host` is
    /// `local:<service id>`, else `host:port` over Thrift with `timeout` on replies, authenticated by
    /// `transport` (`drpc.invocations.thrift.transport` / `storm.thrift.transport`).
    pub fn new(
        host: &str,
        port: u16,
        timeout: Duration,
        transport: ClientTransport,
    ) -> Invocations {
        let endpoint = match host.strip_prefix(LOCAL_HOST_PREFIX) {
            Some(service) => Endpoint::Local {
                service: service.to_owned(),
                drpc: None,
            },
            None => Endpoint::Remote {
                addr: if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                },
                timeout,
                transport: Box::new(transport),
                client: None,
                retry_at: None,
            },
        };
        Invocations {
            host: host.to_owned(),
            port,
            endpoint,
        }
    }

    /// The host as given (`local:<id>` for a local server).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether a remote connection is open (always true for a registered local server).
    pub fn is_connected(&self) -> bool {
        match &self.endpoint {
            Endpoint::Local { service, drpc } => drpc.is_some() || local_service(service).is_some(),
            Endpoint::Remote { client, .. } => client.is_some(),
        }
    }

    /// Runs `call` on the local core or the (re)connected remote client.
    fn with<T>(
        &mut self,
        what: &str,
        local: impl FnOnce(&Drpc) -> T,
        remote: impl FnOnce(
            &mut DistributedRPCInvocationsSyncClient<InProto, OutProto>,
        ) -> thrift::Result<T>,
    ) -> Result<T, String> {
        match &mut self.endpoint {
            Endpoint::Local { service, drpc } => {
                if drpc.is_none() {
                    *drpc = local_service(service);
                }
                match drpc {
                    Some(d) => Ok(local(d)),
                    None => Err(format!(
                        "{what}: no LocalDRPC {service:?} in this process (was it shut down?)"
                    )),
                }
            }
            Endpoint::Remote {
                addr,
                timeout,
                transport,
                client,
                retry_at,
            } => {
                if client.is_none() {
                    if retry_at.is_some_and(|t| Instant::now() < t) {
                        return Err(format!("{what}: DRPC server {addr} is not connected"));
                    }
                    match crate::client::connect(addr, *timeout, transport) {
                        Ok((i, o)) => {
                            *retry_at = None;
                            tracing::info!(server = %addr, "connected to DRPC invocations");
                            *client = Some(DistributedRPCInvocationsSyncClient::new(i, o));
                        }
                        Err(e) => {
                            *retry_at = Some(Instant::now() + RECONNECT_BACKOFF);
                            return Err(format!(
                                "{what}: cannot connect to DRPC server {addr} (drpc.invocations.port): {e}"
                            ));
                        }
                    }
                }
                let c = client.as_mut().expect("connected above");
                remote(c).map_err(|e| {
                    *client = None;
                    format!("{what} on DRPC server {addr}: {e}")
                })
            }
        }
    }

    /// `fetchRequest(function)`; `Ok(None)` when nothing is queued.
    pub fn fetch_request(&mut self, function: &str) -> Result<Option<DRPCRequest>, String> {
        let req = self.with(
            "fetchRequest",
            |d| d.fetch_request(function),
            |c| c.fetch_request(function.to_owned()),
        )?;
        Ok(if req.request_id.is_empty() {
            None
        } else {
            Some(req)
        })
    }

    /// `result(id, result)`.
    pub fn result(&mut self, id: &str, result: &str) -> Result<(), String> {
        self.with(
            "result",
            |d| d.result(id, result.to_owned()),
            |c| c.result(id.to_owned(), result.to_owned()),
        )
    }

    /// `failRequest(id)`.
    pub fn fail_request(&mut self, id: &str) -> Result<(), String> {
        self.with(
            "failRequest",
            |d| d.fail_request(id),
            |c| c.fail_request(id.to_owned()),
        )
    }

    /// Runs `op` up to `attempts` times (the connection is re-opened between attempts, without the
    /// back-off); the last error when every attempt failed.
    pub fn retry<T>(
        &mut self,
        attempts: u32,
        mut op: impl FnMut(&mut Invocations) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut last = String::new();
        for _ in 0..attempts.max(1) {
            if let Endpoint::Remote { retry_at, .. } = &mut self.endpoint {
                *retry_at = None;
            }
            match op(self) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl std::fmt::Debug for Invocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invocations({}:{})", self.host, self.port)
    }
}

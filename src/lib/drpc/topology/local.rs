//! [`LocalDRPC`]: Storm's `LocalDRPC`, a DRPC server inside this process for local mode.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::drpc::Drpc;
use crate::thrift::DRPCExecutionException;

/// The return-info host of a request served by a [`LocalDRPC`]: `local:<service id>`.
pub const LOCAL_HOST_PREFIX: &str = "local:";

type Services = Mutex<HashMap<String, Arc<Drpc>>>;

fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(Default::default)
}

/// The core of the running [`LocalDRPC`] registered as `service_id` (Storm's `ServiceRegistry`).
pub fn local_service(service_id: &str) -> Option<Arc<Drpc>> {
    services()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(service_id)
        .cloned()
}

/// An in-process DRPC server over the same [`Drpc`] core as the `drpc` daemon. A topology reaches it
/// by its service id: [`DRPCSpout::local`](super::DRPCSpout::local) fetches requests from it and
/// [`ReturnResults`](super::ReturnResults) answers them, without sockets. Dropping it (or
/// [`shutdown`](Self::shutdown)) fails the outstanding requests with `SERVER_SHUTDOWN` and unregisters
/// it.
pub struct LocalDRPC {
    service_id: String,
    drpc: Arc<Drpc>,
}

impl Default for LocalDRPC {
    fn default() -> LocalDRPC {
        LocalDRPC::new()
    }
}

impl LocalDRPC {
    /// A server with the default `drpc.request.timeout.secs` and `drpc.queue.size`.
    pub fn new() -> LocalDRPC {
        let drpc = Drpc::from_config(&Config::defaults())
            .unwrap_or_else(|_| Drpc::new(Duration::from_secs(600), 128));
        LocalDRPC::with_core(drpc)
    }

    /// A server whose requests time out after `timeout` (default queue bound).
    pub fn with_timeout(timeout: Duration) -> LocalDRPC {
        LocalDRPC::with_core(Drpc::new(timeout, 128))
    }

    fn with_core(drpc: Drpc) -> LocalDRPC {
        let service_id = uuid::Uuid::new_v4().to_string();
        let drpc = Arc::new(drpc);
        services()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(service_id.clone(), Arc::clone(&drpc));
        LocalDRPC { service_id, drpc }
    }

    /// The id topologies name this server by (Storm's `getServiceId`).
    pub fn service_id(&self) -> &str {
        &self.service_id
    }

    /// The return-info host of this server's requests: `local:<service id>`.
    pub fn host(&self) -> String {
        format!("{LOCAL_HOST_PREFIX}{}", self.service_id)
    }

    /// The shared core.
    pub fn drpc(&self) -> &Arc<Drpc> {
        &self.drpc
    }

    /// `DistributedRPC.execute`: blocks until a topology answers, fails the request, it times out or the
    /// server shuts down.
    pub fn execute(&self, function: &str, args: &str) -> Result<String, DRPCExecutionException> {
        self.drpc.execute(function, args)
    }

    /// Fails every outstanding request with `SERVER_SHUTDOWN` and unregisters the server.
    pub fn shutdown(&self) {
        self.drpc.shutdown();
        services()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.service_id);
    }
}

impl Drop for LocalDRPC {
    fn drop(&mut self) {
        self.shutdown();
    }
}

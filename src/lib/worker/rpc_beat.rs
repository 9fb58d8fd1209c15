//! The worker's RPC heartbeat (Storm 2's `Worker.heartbeatToMasterIfLocalbeatFail`): after each local
//! heartbeat the worker calls `sendSupervisorWorkerHeartbeat` on its supervisor's Thrift service
//! (`127.0.0.1:supervisor.thrift.port`); when that fails it sends the same heartbeat to the leader
//! nimbus (`Nimbus.sendSupervisorWorkerHeartbeat`), so nimbus keeps the executors alive while the
//! supervisor is down. The calls run on their own thread behind a one-slot queue, so a hung
//! supervisor or nimbus never stalls the worker's loop (a heartbeat due while one is in flight is
//! dropped; the next one carries a newer time).

use std::time::Duration;

use crossbeam_channel::{bounded, Sender, TrySendError};

use crate::client::NimbusClient;
use crate::config::Config;
use crate::thrift::{
    SupervisorSyncClient, SupervisorWorkerHeartbeat, TNimbusSyncClient, TSupervisorSyncClient,
};

/// The sending side; dropping it stops the thread.
pub struct RpcBeat {
    tx: Sender<SupervisorWorkerHeartbeat>,
}

impl RpcBeat {
    /// Starts the sender thread for a worker whose configuration is `conf`.
    pub fn start(conf: &Config) -> std::io::Result<RpcBeat> {
        let (tx, rx) = bounded::<SupervisorWorkerHeartbeat>(1);
        let port = conf.get_u64("supervisor.thrift.port").unwrap_or(6628);
        let timeout = Duration::from_millis(
            conf.get_u64("supervisor.thrift.socket.timeout.ms")
                .unwrap_or(5000)
                .max(100),
        );
        // The supervisor service's transport (`supervisor.thrift.transport`, else
        // `storm.thrift.transport`); a configuration error is reported with every failed beat.
        let transport = crate::client::ClientTransport::from_conf(
            conf,
            crate::client::ConnectionType::Supervisor,
        )
        .map_err(|e| e.to_string());
        let conf = conf.clone();
        std::thread::Builder::new()
            .name("worker-rpc-heartbeat".into())
            .spawn(move || {
                let addr = format!("127.0.0.1:{port}");
                let mut last: Option<Result<&'static str, ()>> = None;
                for hb in rx {
                    let to_supervisor = transport
                        .clone()
                        .and_then(|t| {
                            crate::client::connect(&addr, timeout, &t).map_err(|e| e.to_string())
                        })
                        .and_then(|(i, o)| {
                            SupervisorSyncClient::new(i, o)
                                .send_supervisor_worker_heartbeat(hb.clone())
                                .map_err(|e| e.to_string())
                        });
                    let outcome = match to_supervisor {
                        Ok(()) => Ok("supervisor"),
                        Err(sup_err) => NimbusClient::connect_leader(&conf)
                            .map_err(|e| e.to_string())
                            .and_then(|mut c| {
                                c.raw()
                                    .send_supervisor_worker_heartbeat(hb)
                                    .map_err(|e| e.to_string())
                            })
                            .map(|()| "nimbus")
                            .map_err(|n| format!("supervisor at {addr}: {sup_err}; nimbus: {n}")),
                    };
                    // Log changes of path only: a heartbeat a second would flood the log.
                    match outcome {
                        Ok(to) if last != Some(Ok(to)) => {
                            tracing::info!(to, "worker heartbeats go to the {to}");
                            last = Some(Ok(to));
                        }
                        Ok(_) => {}
                        Err(e) if last != Some(Err(())) => {
                            tracing::warn!("cannot send the worker heartbeat: {e}");
                            last = Some(Err(()));
                        }
                        Err(e) => tracing::debug!("cannot send the worker heartbeat: {e}"),
                    }
                }
            })?;
        Ok(RpcBeat { tx })
    }

    /// Queues one heartbeat (dropped when the previous one is still being sent).
    pub fn send(&self, hb: SupervisorWorkerHeartbeat) {
        match self.tx.try_send(hb) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

//! The `nimbus` daemon: Storm's master (`Nimbus.java`), serving the Thrift `Nimbus` service on
//! `nimbus.thrift.port` (framed binary, frames ≤ `nimbus.thrift.max_buffer_size`, at most
//! `nimbus.thrift.threads` connections) and, when `nimbus.thrift.tls.port` is set, TLS there
//! (unframed binary in TLS sessions, Storm's `TlsTransportPlugin`: see [`crate::security::tls`]).
//!
//! What it does (reference §3.2, §3.3, §3.6, §3.7, §3.8):
//! * code upload: `beginFileUpload` (→ `<storm.local.dir>/nimbus/inbox/stormjar-<uuid>.jar`),
//!   `uploadChunk`, `finishFileUpload` (uploads idle longer than `nimbus.file.copy.expiration.secs`
//!   are dropped); inbox files older than `nimbus.inbox.jar.expiration.secs` are deleted every
//!   `nimbus.cleanup.inbox.freq.secs` (every nimbus, as Storm's `cleanInbox`);
//! * submission (`submitTopology[WithOpts]`, `isTopologyNameAllowed`): Storm's name rule and error texts,
//!   conf normalization, `normalize_topology` + system-topology validation, id
//!   `<name>-<counter>-<epoch secs>`, the code stored as Storm's blobs `<id>-stormjar.jar`,
//!   `<id>-stormcode.ser`, `<id>-stormconf.ser` (see [`replication`]; submission waits for
//!   `topology.min.replication.count` nimbuses to hold them), then `/credentials/<id>` (if any),
//!   `/workerbeats/<id>`, `/errors/<id>` and `/storms/<id>` in ZooKeeper, then an immediate
//!   `mkAssignments` (Storm waits for the next monitor round). Java components (`serialized_java`)
//!   are accepted and run in the worker's embedded JVM; `topology.blobstore.map` keys must exist;
//! * scheduling ([`assign`], [`scheduler`]): Storm's `mkAssignments` with `DefaultScheduler` over
//!   `EvenScheduler`, on the leader, at submit, after DO_REBALANCE and every `nimbus.monitor.freq.secs`
//!   (first round one period after start). Slots are the `meta` ports of the live `/supervisors`
//!   entries (node id = supervisor id, host = `SupervisorInfo.hostname`); executors come from
//!   `StormBase.component_executors` over the system topology's task numbering (`partitionFixed`;
//!   `[-1,-1]` is never assigned).
//!   `/assignments/<id>` is written only when it changed, with Storm's start-time rule (executors of a
//!   changed or new slot get `now`) and `master_code_dir` = `storm.local.dir`. KILLED topologies keep
//!   their assignment and are not rescheduled;
//! * liveness ([`heartbeats`]): fed by RPC (`sendSupervisorWorkerHeartbeats` from supervisors,
//!   `sendSupervisorWorkerHeartbeat` from workers whose supervisor is down; the leader only), it keeps,
//!   per executor, the nimbus time its reported `time_secs` last changed; an executor is alive while
//!   that is younger than `max(nimbus.task.timeout.secs, topology.worker.timeout.secs)` or its start
//!   time is younger than `max(nimbus.task.launch.secs, that timeout)`. Dead executors' slots are dead
//!   ports for the round and the executors move to other free slots. Executors on a supervisor whose
//!   `/supervisors` node vanished (or that no longer offers the port) lose their slot at once — Storm
//!   would keep them while they heartbeat;
//! * the status machine: `activate`, `deactivate`, `killTopology[WithOpts]` (KILLED now, REMOVE after
//!   `wait_secs`, default the topology's `topology.message.timeout.secs`), `rebalance` (Storm's
//!   validation texts; REBALANCING with `prev_status` and the options now, DO_REBALANCE after
//!   `wait_secs`: new `component_executors` (merged; a component never gets more executors than tasks)
//!   and `num_workers`, rescheduled from scratch with the topology's slots free, back to the previous
//!   status), all on timer threads; a nimbus that gains leadership re-schedules the REMOVE of every
//!   KILLED topology and the DO_REBALANCE of every REBALANCING one;
//! * cleanup (leader, every monitor round): topology ids with `/workerbeats` or `/errors`
//!   entries but no `/storms` node lose them at once (Storm waits
//!   `nimbus.topology.blobstore.deletion.delay.ms`; here REMOVE already deletes them, so this only
//!   catches leftovers, and it runs under the submit lock so it never races a submission);
//! * reads: `getClusterInfo` (supervisors with used slots from the assignments; topologies with
//!   workers and executors from their assignment), `getTopologyInfo[ByName][WithOpts]` (executors with
//!   host, port, uptime since their start time and stats from `/workerbeats`; every component's errors
//!   from `/errors`, `num_err_choice` honoured), `getTopologySummaries`, `getTopologySummary[ByName]`,
//!   `getLeader`, `getNimbusConf`, `getTopologyConf`, `getTopology` (system topology), `getUserTopology`;
//! * the UI's aggregated pages ([`pages`]): `getTopologyPageInfo`, `getComponentPageInfo`,
//!   `getSupervisorPageInfo` with Storm's `StatsUtil` aggregation (windows, system components and
//!   streams only when asked, weighted latencies, capacity, placeholders, worker summaries);
//! * dynamic log levels: `setLogConfig` / `getLogConfig` on `/logconfigs/<id>` with Storm's merge;
//! * the blob store ([`blobstore`]): Storm's LocalFsBlobStore layout under `<storm.local.dir>/blobs`
//!   and the fourteen blob methods; `dependency_jars`/`dependency_artifacts` entries that are blob
//!   keys (Storm's `StormSubmitter` and `storm jar --jars/--artifacts`) must exist at submit;
//!   supervisors download them by key like the topology's code;
//! * HA: every nimbus registers `/nimbuses/<host:port>` (ephemeral) and joins the election on
//!   `/leader-lock` as `host:port` (`storm.local.hostname`, else the machine's host name); writes on a
//!   non-leader fail with Storm's `not a leader, current leader is <host:port>`.
//!
//! **Out of scope here:** pushing
//! assignments to supervisors over Thrift (they watch ZooKeeper), the blacklist scheduler, resource-aware scheduling, rebalance's
//! resource and conf overrides, profiling, authorization, and every other `Nimbus`
//! method — those answer `<method> is not supported by storm-rs yet` (a `TApplicationException`).
//! Without an assignment, `getClusterInfo` reports a topology's planned executors
//! (`component_executors`) and `num_workers` from its storm base; `num_tasks` always comes from the
//! task numbering of its system topology. Differences from Storm: REMOVE also drops `/workerbeats/<id>`, `/errors/<id>`
//! and the topology's code blobs at once; the heartbeat recovery wait after gaining leadership counts only
//! nodes still registered in `/supervisors` (Storm also waits for dead ones, up to
//! `supervisor.worker.heartbeats.max.timeout.secs`); liveness never comes from `/workerbeats`
//! (Storm reads it for topologies built by Storm 1.x).

pub mod assign;
pub mod blobstore;
pub mod core;
pub mod handler;
pub mod heartbeats;
pub mod pages;
pub mod replication;
pub mod scheduler;
#[cfg(test)]
mod tests;
pub mod ui_calls;

use std::sync::Arc;

use crate::config::Config;
use crate::daemon::DaemonArgs;
use crate::thrift::server::{ServerOptions, ThriftServer};
use crate::thrift::NimbusSyncProcessor;

pub use self::core::{Nimbus, NimbusError};
pub use handler::NimbusHandler;

/// `Nimbus` string arguments Storm's Java clients send as `null` (left out of the call): the UI asks
/// `getSupervisorPageInfo(id, null, …)` or `(null, host, …)`, `getTopologyHistory(null)`,
/// `getOwnerResourceSummaries(null)`, `debug(name, null, …)` for the whole topology. They arrive as
/// `""`.
pub const NULLABLE_STRING_ARGS: &[(&str, &[i16])] = &[
    ("getSupervisorPageInfo", &[1, 2]),
    ("debug", &[2]),
    ("getTopologyHistory", &[1]),
    ("getOwnerResourceSummaries", &[1]),
];

use crate::config::local_hostname;

/// A running nimbus: the core and its Thrift endpoints.
pub struct NimbusDaemon {
    nimbus: Arc<Nimbus>,
    /// `nimbus.thrift.port` (absent with `nimbus.thrift.tls.server.only`).
    server: Option<ThriftServer>,
    /// `nimbus.thrift.tls.port` (absent when it is 0).
    tls_server: Option<ThriftServer>,
}

/// Binds one of nimbus's Thrift endpoints; the error names the port key.
fn listen(
    nimbus: &Arc<Nimbus>,
    port_key: &str,
    port: u16,
    opts: ServerOptions,
) -> anyhow::Result<ThriftServer> {
    let name = if opts.tls.is_some() {
        "nimbus-tls"
    } else {
        "nimbus"
    };
    ThriftServer::start(
        name,
        &format!("0.0.0.0:{port}"),
        NimbusSyncProcessor::new(NimbusHandler(nimbus.clone())),
        opts,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {port_key} = {port} (0.0.0.0:{port}): {e}{}",
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("; is another nimbus (or another program) using this port? Set a free port with -c {port_key}=PORT")
            } else {
                String::new()
            }
        )
    })
}

impl NimbusDaemon {
    /// Connects to ZooKeeper, registers, joins the election and serves on `nimbus.thrift.port`
    /// and, when set, TLS on `nimbus.thrift.tls.port`.
    pub fn start(conf: &Config) -> anyhow::Result<NimbusDaemon> {
        use crate::security::tls::{self, TlsServer, TlsService};
        let port = conf.get_port("nimbus.thrift.port")?;
        let max_frame = usize::try_from(conf.get_u64("nimbus.thrift.max_buffer_size")?)
            .unwrap_or(usize::MAX)
            .max(1);
        let max_connections = usize::try_from(conf.get_u64("nimbus.thrift.threads")?)
            .unwrap_or(usize::MAX)
            .max(1);
        let transport = std::sync::Arc::new(crate::security::ServerTransport::from_conf(
            conf,
            crate::security::ConnectionType::Nimbus,
        )?);
        let tls_port = tls::nimbus_tls_port(conf)?;
        let tls_only = conf
            .get(tls::NIMBUS_TLS_SERVER_ONLY)
            .and_then(|v| v.as_bool())
            == Some(true);
        if tls_only && tls_port == 0 {
            anyhow::bail!(
                "{} is true but {} is 0: nimbus would serve nothing",
                tls::NIMBUS_TLS_SERVER_ONLY,
                tls::NIMBUS_TLS_PORT
            );
        }
        // Certificates are read before anything starts: a bad file stops nimbus at once.
        let tls_opts = if tls_port > 0 {
            let server = TlsServer::from_conf(conf, TlsService::Nimbus)?;
            let num = |key: &str, default: usize| -> anyhow::Result<usize> {
                Ok(match conf.get(key) {
                    None | Some(serde_json::Value::Null) => default,
                    Some(_) => usize::try_from(conf.get_u64(key)?)
                        .unwrap_or(usize::MAX)
                        .max(1),
                })
            };
            let idle = match conf.get(tls::TLS_SOCKET_TIMEOUT) {
                None | Some(serde_json::Value::Null) => None,
                Some(_) => Some(std::time::Duration::from_millis(
                    conf.get_u64(tls::TLS_SOCKET_TIMEOUT)?.max(1),
                )),
            };
            let mut o = ServerOptions {
                max_frame_bytes: num(tls::NIMBUS_TLS_MAX_BUFFER, max_frame)?,
                max_connections: num(tls::NIMBUS_TLS_THREADS, max_connections)?,
                nullable_string_args: NULLABLE_STRING_ARGS,
                tls: Some(std::sync::Arc::new(server)),
                ..ServerOptions::default()
            };
            if let Some(idle) = idle {
                o.idle_timeout = idle;
            }
            Some(o)
        } else {
            None
        };
        let storage = crate::daemon::connect_zookeeper(conf)?;
        let host = local_hostname(conf);
        let nimbus = Nimbus::start(conf.clone(), storage, &host, port)?;
        let server = if tls_only {
            None
        } else {
            let opts = ServerOptions {
                max_frame_bytes: max_frame,
                max_connections,
                nullable_string_args: NULLABLE_STRING_ARGS,
                transport,
                ..ServerOptions::default()
            };
            match listen(&nimbus, "nimbus.thrift.port", port, opts) {
                Ok(s) => Some(s),
                Err(e) => {
                    nimbus.shutdown();
                    return Err(e);
                }
            }
        };
        let tls_server = match tls_opts {
            None => None,
            Some(opts) => match listen(&nimbus, tls::NIMBUS_TLS_PORT, tls_port, opts) {
                Ok(s) => Some(s),
                Err(e) => {
                    if let Some(mut s) = server {
                        s.shutdown();
                    }
                    nimbus.shutdown();
                    return Err(e);
                }
            },
        };
        Ok(NimbusDaemon {
            nimbus,
            server,
            tls_server,
        })
    }

    pub fn nimbus(&self) -> &Arc<Nimbus> {
        &self.nimbus
    }

    /// The bound Thrift address (the TLS one when nimbus serves TLS only).
    pub fn addr(&self) -> std::net::SocketAddr {
        match (&self.server, &self.tls_server) {
            (Some(s), _) | (None, Some(s)) => s.local_addr(),
            (None, None) => std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The bound TLS address, when nimbus serves TLS.
    pub fn tls_addr(&self) -> Option<std::net::SocketAddr> {
        self.tls_server.as_ref().map(ThriftServer::local_addr)
    }

    /// Stops serving, then stops timers, leaves the election and closes the ZooKeeper session.
    pub fn shutdown(mut self) {
        if let Some(s) = &mut self.server {
            s.shutdown();
        }
        if let Some(s) = &mut self.tls_server {
            s.shutdown();
        }
        self.nimbus.shutdown();
    }
}

/// The `nimbus` daemon: loads the configuration, logs to `<storm.log.dir>/nimbus.log`, serves until
/// SIGTERM or SIGINT, then shuts down cleanly and returns `Ok`.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    crate::daemon::run(
        "nimbus",
        args,
        |conf| {
            let daemon = NimbusDaemon::start(conf)?;
            tracing::info!(
                addr = %daemon.addr(),
                tls_addr = ?daemon.tls_addr(),
                id = %daemon.nimbus().id(),
                leader = daemon.nimbus().is_leader(),
                version = crate::STORM_VERSION,
                "nimbus started"
            );
            Ok(daemon)
        },
        NimbusDaemon::shutdown,
    )
}

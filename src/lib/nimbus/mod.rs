//! The `nimbus` daemon: Storm's master (`Nimbus.java`), serving the Thrift `Nimbus` service on
//! `nimbus.thrift.port` (framed binary, frames ≤ `nimbus.thrift.max_buffer_size`, at most
//! `nimbus.thrift.threads` connections).
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

/// A running nimbus: the core and its Thrift endpoint.
pub struct NimbusDaemon {
    nimbus: Arc<Nimbus>,
    server: ThriftServer,
}

impl NimbusDaemon {
    /// Connects to ZooKeeper, registers, joins the election and serves on `nimbus.thrift.port`.
    pub fn start(conf: &Config) -> anyhow::Result<NimbusDaemon> {
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
        let storage = crate::daemon::connect_zookeeper(conf)?;
        let host = local_hostname(conf);
        let nimbus = Nimbus::start(conf.clone(), storage, &host, port)?;
        let server = ThriftServer::start(
            "nimbus",
            &format!("0.0.0.0:{port}"),
            NimbusSyncProcessor::new(NimbusHandler(nimbus.clone())),
            ServerOptions {
                max_frame_bytes: max_frame,
                max_connections,
                nullable_string_args: NULLABLE_STRING_ARGS,
                transport,
                ..ServerOptions::default()
            },
        );
        let server = match server {
            Ok(s) => s,
            Err(e) => {
                nimbus.shutdown();
                return Err(anyhow::anyhow!(
                    "cannot listen on nimbus.thrift.port = {port} (0.0.0.0:{port}): {e}{}",
                    if e.kind() == std::io::ErrorKind::AddrInUse {
                        "; is another nimbus (or another program) using this port? Set a free port with -c nimbus.thrift.port=PORT"
                    } else {
                        ""
                    }
                ));
            }
        };
        Ok(NimbusDaemon { nimbus, server })
    }

    pub fn nimbus(&self) -> &Arc<Nimbus> {
        &self.nimbus
    }

    /// The bound Thrift address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Stops serving, then stops timers, leaves the election and closes the ZooKeeper session.
    pub fn shutdown(mut self) {
        self.server.shutdown();
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

//! The `nimbus` daemon: Storm's master (`Nimbus.java`), serving the Thrift `Nimbus` service on
//! `nimbus.thrift.port` (framed binary, frames ≤ `nimbus.thrift.max_buffer_size`, at most
//! `nimbus.thrift.threads` connections).
//!
//! What it does (reference §3.2, §3.7, §3.8):
//! * code upload: `beginFileUpload` (→ `<storm.local.dir>/nimbus/inbox/stormjar-<uuid>.jar`),
//!   `uploadChunk`, `finishFileUpload` (uploads idle longer than `nimbus.file.copy.expiration.secs`
//!   are dropped);
//! * submission (`submitTopology[WithOpts]`, `isTopologyNameAllowed`): Storm's name rule and error texts,
//!   conf normalization, `normalize_topology` + system-topology validation, id
//!   `<name>-<counter>-<epoch secs>`, the legacy `nimbus/stormdist/<id>/{stormjar.jar, stormcode.ser,
//!   stormconf.ser}` written through temporary names, then `/credentials/<id>` (if any),
//!   `/workerbeats/<id>`, `/errors/<id>` and `/storms/<id>` in ZooKeeper. Java components
//!   (Java-serialized objects, `JavaObject`) are refused with `InvalidTopologyException`;
//! * the status machine: `activate`, `deactivate`, `killTopology[WithOpts]` (KILLED now, REMOVE after
//!   `wait_secs`, default the topology's `topology.message.timeout.secs`, on a timer thread); a nimbus
//!   that gains leadership re-schedules the REMOVE of every KILLED topology it finds;
//! * reads: `getClusterInfo`, `getTopologySummaries`, `getTopologySummary[ByName]`, `getLeader`,
//!   `getNimbusConf`, `getTopologyConf`, `getTopology` (system topology), `getUserTopology`;
//! * HA: every nimbus registers `/nimbuses/<host:port>` (ephemeral) and joins the election on
//!   `/leader-lock` as `host:port` (`storm.local.hostname`, else the machine's host name); writes on a
//!   non-leader fail with Storm's `not a leader, current leader is <host:port>`.
//!
//! **Out of scope here:** scheduling and assignments (`mkAssignments`, the schedulers, `/assignments`),
//! rebalancing, worker liveness monitoring, the blob store, the nimbus HTTP file server, the inbox
//! cleaner, the topology history, authorization, and every other `Nimbus` method — those answer
//! `<method> is not supported by storm-rs yet` (a `TApplicationException`). Without assignments,
//! `getClusterInfo` reports a topology's planned executors (`component_executors`) and `num_workers`
//! from its storm base; `num_tasks` always comes from the task numbering of its system topology.
//! Differences from Storm: the code lives in `nimbus/stormdist/` (pre-blobstore layout), and REMOVE
//! also drops `/workerbeats/<id>`, `/errors/<id>` and the stormdist directory at once instead of
//! leaving them to a cleanup timer.

pub mod core;
pub mod handler;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use anyhow::Context;

use crate::cluster::{StateStorage, ZkSettings, ZkStorage};
use crate::config::Config;
use crate::daemon::{load_config, DaemonArgs};
use crate::paths::StormPaths;
use crate::thrift::server::{ServerOptions, ThriftServer};
use crate::thrift::NimbusSyncProcessor;

pub use self::core::{Nimbus, NimbusError};
pub use handler::NimbusHandler;

/// The host name nimbus advertises: `storm.local.hostname`, else the machine's.
pub fn local_hostname(conf: &Config) -> String {
    if let Ok(Some(h)) = conf.get_opt_str("storm.local.hostname") {
        if !h.trim().is_empty() {
            return h.trim().to_string();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

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
        let settings = ZkSettings::from_config(conf)?;
        let storage: Arc<dyn StateStorage> = Arc::new(
            ZkStorage::connect(settings.clone())
                .with_context(|| format!("cannot connect to ZooKeeper at {}", settings.servers))?,
        );
        let host = local_hostname(conf);
        let nimbus = Nimbus::start(conf.clone(), storage, &host, port)?;
        let server = ThriftServer::start(
            "nimbus",
            &format!("0.0.0.0:{port}"),
            NimbusSyncProcessor::new(NimbusHandler(nimbus.clone())),
            ServerOptions {
                max_frame_bytes: max_frame,
                max_connections,
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
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    // Block the stop signals before any thread exists, so that every thread inherits the mask and the
    // signals wait for `sigwait` below.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&stop), None)
        .context("cannot block SIGTERM/SIGINT")?;

    let conf = load_config(args)?;
    let paths = StormPaths::from_config(&conf)?;
    crate::logging::init_daemon(&paths.daemon_log("nimbus")).with_context(|| {
        format!(
            "cannot open the log file {}",
            paths.daemon_log("nimbus").display()
        )
    })?;
    let daemon = match NimbusDaemon::start(&conf) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("nimbus cannot start: {e:#}");
            return Err(e);
        }
    };
    tracing::info!(
        addr = %daemon.addr(),
        id = %daemon.nimbus().id(),
        leader = daemon.nimbus().is_leader(),
        version = crate::STORM_VERSION,
        "nimbus started"
    );
    let signal = stop.wait().context("waiting for SIGTERM/SIGINT")?;
    tracing::info!(signal = %signal, "nimbus stopping");
    daemon.shutdown();
    tracing::info!("nimbus stopped");
    Ok(())
}

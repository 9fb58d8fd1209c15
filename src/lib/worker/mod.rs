//! The worker process (Storm's `Worker.java`): one OS process per assigned slot, started by a
//! supervisor as `<program> <topology-id> <supervisor-id> <port> <worker-id>` (the stock `worker`
//! binary, or a topology program that calls [`run_if_worker`] / `storm::submitter`).
//!
//! What it owns:
//! * loading the cluster configuration the supervisor hands down (`STORM_CONF_FILE`, `STORM_OPTIONS`,
//!   `STORM_HOME`, or `--config`/`-c`) and the topology from `supervisor/stormdist/<id>/`;
//! * `workers/<wid>/pids/<pid>` and `workers-artifacts/<id>/<port>/worker.pid`, the worker log
//!   `workers-artifacts/<id>/<port>/worker.log`;
//! * reading `/assignments/<id>`: the executors whose `NodeInfo` is (supervisor id, port) run here, the
//!   others are reached over [`TcpTransport`] on their workers' slot ports;
//! * heartbeats: the LocalState `workers/<wid>/heartbeats` every `worker.heartbeat.frequency.secs`
//!   (for the supervisor) followed by the RPC heartbeat ([`rpc_beat`]: to the supervisor, else to
//!   nimbus; nimbus's liveness check), and `/workerbeats/<id>/<supervisor-id>-<port>` with executor
//!   stats every `executor.metrics.frequency.secs` (for `getTopologyInfo` and the UI);
//! * following `/storms/<id>` (active iff status is `ACTIVE`) through a watch plus a 10 s re-read;
//! * errors reported by executors go to `/errors/<id>`;
//! * exiting when the assignment no longer gives it exactly its executors (or is gone), and on
//!   SIGTERM/SIGINT, after stopping its executors.

pub mod java;
pub mod log_levels;
pub mod rpc_beat;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::api::{ConfMap, WorkerTopologyContext};
use crate::cluster::{ClusterState, StateStorage, StorageError, Subtree};
use crate::config::{Config, ConfigError, ConfigOptions};
use crate::daemon::DaemonArgs;
use crate::executor::{ErrorReport, ErrorSink, Worker, WorkerError, WorkerSpec};
use crate::local_state::{LocalState, LocalStateError, LS_WORKER_HEARTBEAT};
use crate::paths::{dist_file, StormPaths};
use crate::thrift::{
    Assignment, ClusterWorkerHeartbeat, ExecutorInfo, LSWorkerHeartbeat, StormTopology,
    SupervisorWorkerHeartbeat, TopologyStatus,
};
use crate::topology::system::system_topology;
use crate::transport::{ContextResolver, TcpTransport, TransportError, TransportOptions};

/// Set to `1` by the supervisor in a worker's environment.
pub const ENV_WORKER: &str = "STORM_WORKER";
/// The supervisor's configuration file, for the worker to load the same cluster configuration.
pub const ENV_CONF_FILE: &str = "STORM_CONF_FILE";
/// The supervisor's `-c key=value` options, as a JSON list of strings.
pub const ENV_OPTIONS: &str = "STORM_OPTIONS";

/// How many heartbeat versions the worker keeps (Storm keeps 60).
const HEARTBEAT_VERSIONS: usize = 60;
/// Storm re-reads the topology's active flag every 10 s besides the watch.
const ACTIVE_POLL: Duration = Duration::from_secs(10);

/// Why a worker could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum WorkerDaemonError {
    #[error("usage: worker <topology-id> <supervisor-id> <port> <worker-id> ({0})")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{ENV_OPTIONS} is not a JSON list of key=value strings: {0}")]
    BadOptions(String),
    #[error("ZooKeeper: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    LinkAuth(#[from] crate::transport::auth::NoSecret),
    #[error(
        "worker-link TLS: {0}; fix that key in the cluster or topology conf, or set \
         storm.messaging.netty.tls.enable: false"
    )]
    LinkTls(#[from] crate::security::tls::TlsConfigError),
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid {what}: {message}; the supervisor downloads it again when the worker is relaunched", path.display())]
    Corrupt {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("topology {0} has no assignment (was it killed?)")]
    NoAssignment(String),
    #[error("the assignment of topology {topology} gives no executors to {node}:{port}")]
    NotAssigned {
        topology: String,
        node: String,
        port: u16,
    },
    #[error("worker heartbeat: {0}")]
    LocalState(#[from] LocalStateError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("invalid topology: {0}")]
    Topology(String),
    #[error("Java components: {0}")]
    Java(String),
}

/// The positional arguments the supervisor passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerArgs {
    pub topology_id: String,
    pub supervisor_id: String,
    pub port: u16,
    pub worker_id: String,
}

impl WorkerArgs {
    pub fn parse(rest: &[String]) -> Result<WorkerArgs, WorkerDaemonError> {
        let [topology_id, supervisor_id, port, worker_id] = rest else {
            return Err(WorkerDaemonError::Usage(format!(
                "got {} arguments",
                rest.len()
            )));
        };
        let port =
            port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                WorkerDaemonError::Usage(format!("{port:?} is not a port number"))
            })?;
        Ok(WorkerArgs {
            topology_id: topology_id.clone(),
            supervisor_id: supervisor_id.clone(),
            port,
            worker_id: worker_id.clone(),
        })
    }
}

/// The cluster configuration of a worker: `--config`/`-c` on its command line, else what the supervisor
/// put in the environment.
pub fn worker_config(args: &DaemonArgs) -> Result<Config, WorkerDaemonError> {
    let mut overrides: Vec<String> = match std::env::var(ENV_OPTIONS) {
        Ok(json) if !json.trim().is_empty() => {
            serde_json::from_str(&json).map_err(|e| WorkerDaemonError::BadOptions(e.to_string()))?
        }
        _ => Vec::new(),
    };
    overrides.extend(args.conf.iter().cloned());
    let config_file = args
        .config
        .clone()
        .or_else(|| std::env::var_os(ENV_CONF_FILE).map(PathBuf::from));
    Ok(Config::load(&ConfigOptions {
        config_file,
        overrides,
    })?)
}

/// For topology programs: when this process was started by a supervisor as a worker, runs the worker
/// and exits the process; otherwise returns at once. `storm::submitter` calls it, so a program that
/// builds its topology and calls `submit_topology`/`run_or_submit` is already a worker; call it first
/// thing in `main` if the program parses its own arguments.
pub fn run_if_worker() {
    if std::env::var(ENV_WORKER).as_deref() != Ok("1") {
        return;
    }
    let code = match main(&DaemonArgs::from_args(std::env::args_os())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("worker: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// The executors of `assignment` placed on `node:port`, sorted.
pub fn local_executors(assignment: &Assignment, node: &str, port: u16) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = assignment
        .executor_node_port
        .iter()
        .flatten()
        .filter(|(_, ni)| ni.node == node && ni.port.contains(&i64::from(port)))
        .filter_map(|(key, _)| executor_of_key(key))
        .collect();
    out.sort_unstable();
    out
}

fn executor_of_key(key: &[i64]) -> Option<(i32, i32)> {
    match key {
        [s, e] => Some((i32::try_from(*s).ok()?, i32::try_from(*e).ok()?)),
        _ => None,
    }
}

/// Task → slot address for every task of `assignment` that is not on `node:port`. Hosts that do not
/// resolve are left out (their tuples are dropped and replayed) and logged.
pub fn remote_tasks(assignment: &Assignment, node: &str, port: u16) -> HashMap<i32, SocketAddr> {
    let hosts = assignment.node_host.clone().unwrap_or_default();
    let mut resolved: BTreeMap<(String, i64), Option<SocketAddr>> = BTreeMap::new();
    let mut out = HashMap::new();
    for (key, ni) in assignment.executor_node_port.iter().flatten() {
        let Some(&p) = ni.port.iter().next() else {
            continue;
        };
        if ni.node == node && p == i64::from(port) {
            continue;
        }
        let Some((start, end)) = executor_of_key(key) else {
            continue;
        };
        let addr = *resolved.entry((ni.node.clone(), p)).or_insert_with(|| {
            let host = hosts
                .get(&ni.node)
                .cloned()
                .unwrap_or_else(|| ni.node.clone());
            let port = u16::try_from(p).ok()?;
            match (host.as_str(), port).to_socket_addrs() {
                Ok(mut addrs) => addrs.next(),
                Err(e) => {
                    tracing::warn!(%host, port, "cannot resolve the host of a remote worker: {e}");
                    None
                }
            }
        });
        if let Some(addr) = addr {
            for task in start..=end {
                out.insert(task, addr);
            }
        }
    }
    out
}

/// The topology and its configuration as the supervisor downloaded them.
pub fn read_topology(
    paths: &StormPaths,
    topology_id: &str,
    max_bytes: u64,
) -> Result<(StormTopology, ConfMap), WorkerDaemonError> {
    let dir = paths.supervisor_stormdist(topology_id);
    let code_path = dist_file(&dir, "stormcode.ser");
    let conf_path = dist_file(&dir, "stormconf.ser");
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| WorkerDaemonError::Io {
            what: "read",
            path: p.to_path_buf(),
            source,
        })
    };
    let code = read(&code_path)?;
    let topology: StormTopology = crate::thrift::deserialize_any_with_limit(&code, max_bytes)
        .map_err(|e| WorkerDaemonError::Corrupt {
            what: "topology (stormcode.ser)",
            path: code_path.clone(),
            message: e.to_string(),
        })?;
    let conf_bytes = read(&conf_path)?;
    let conf =
        crate::thrift::gzip_json_to_conf_with_limit(&conf_bytes, max_bytes).map_err(|e| {
            WorkerDaemonError::Corrupt {
                what: "topology configuration (stormconf.ser)",
                path: conf_path.clone(),
                message: e.to_string(),
            }
        })?;
    Ok((topology, conf))
}

/// Sends executor errors to `/errors/<id>/<component>`.
struct ZkErrorSink {
    cluster: Arc<ClusterState>,
    host: String,
    port: u16,
}

impl ErrorSink for ZkErrorSink {
    fn report(&self, report: ErrorReport) {
        let host = report.host.clone().unwrap_or_else(|| self.host.clone());
        let port = report.port.unwrap_or(self.port);
        if let Err(e) = self.cluster.report_error(
            &report.topology_id,
            &report.component_id,
            &host,
            port,
            &report.error,
        ) {
            tracing::warn!(
                topology = %report.topology_id,
                component = %report.component_id,
                task = report.task_id,
                "cannot record the error in ZooKeeper: {e}"
            );
        }
    }
}

/// What wakes the worker's main loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    AssignmentChanged,
    StormChanged,
    /// `/logconfigs/<id>` changed (`storm set_log_level`).
    LogConfigChanged,
    /// The ZooKeeper session was re-established: re-read everything, re-arm watches.
    Resync,
    Stop,
}

/// Why [`RunningWorker::run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    Stopped,
    AssignmentChanged,
    AssignmentRemoved,
}

/// A started worker: its executors, transport and ZooKeeper connection.
pub struct RunningWorker {
    args: WorkerArgs,
    cluster: Arc<ClusterState>,
    worker: Worker,
    transport: Arc<TcpTransport>,
    executors: Vec<(i32, i32)>,
    heartbeats: LocalState,
    start: Instant,
    hb_every: Duration,
    zk_beat_every: Duration,
    refresh_every: Duration,
    stats_rate: f64,
    events: Receiver<Event>,
    events_tx: Sender<Event>,
    active: bool,
    log_levels: log_levels::LogLevels,
    log_poll: Duration,
    rpc_beat: Option<rpc_beat::RpcBeat>,
}

impl RunningWorker {
    /// Reads the topology and assignment, binds the slot port, starts the executors and writes the
    /// first heartbeats.
    pub fn start(
        conf: &Config,
        storage: Arc<dyn StateStorage>,
        args: WorkerArgs,
    ) -> Result<RunningWorker, WorkerDaemonError> {
        let paths = StormPaths::from_config(conf)?;
        let start = Instant::now();
        let max_bytes = conf.get_u64("storm.compression.gzip.max.decompressed.bytes")?;
        let (topology, topo_conf) = read_topology(&paths, &args.topology_id, max_bytes)?;
        let mut merged = conf.to_json();
        merged.extend(topo_conf);
        // The heartbeat's nimbus fallback uses TLS when nimbus set `nimbus.thrift.client.use.tls` in
        // the topology's conf (from `topology.worker.nimbus.thrift.client.use.tls`), as Storm's workers.
        let mut beat_conf = conf.clone();
        if let Some(v) = merged.get(crate::security::tls::NIMBUS_CLIENT_USE_TLS) {
            beat_conf.set(crate::security::tls::NIMBUS_CLIENT_USE_TLS, v.clone());
        }

        let cluster = Arc::new(ClusterState::new(storage)?);
        let (events_tx, events) = crossbeam_channel::bounded::<Event>(64);
        {
            let id = args.topology_id.clone();
            let tx = events_tx.clone();
            cluster.on_change(
                Subtree::Assignments,
                Arc::new(move |e| {
                    if e.id.as_deref().is_none_or(|i| i == id) {
                        let _ = tx.try_send(Event::AssignmentChanged);
                    }
                }),
            );
            let id = args.topology_id.clone();
            let tx = events_tx.clone();
            cluster.on_change(
                Subtree::LogConfigs,
                Arc::new(move |e| {
                    if e.id.as_deref().is_none_or(|i| i == id) {
                        let _ = tx.try_send(Event::LogConfigChanged);
                    }
                }),
            );
            let id = args.topology_id.clone();
            let tx = events_tx.clone();
            cluster.on_change(
                Subtree::Storms,
                Arc::new(move |e| {
                    if e.subtree.is_none() {
                        let _ = tx.try_send(Event::Resync);
                    } else if e.id.as_deref().is_none_or(|i| i == id) {
                        let _ = tx.try_send(Event::StormChanged);
                    }
                }),
            );
        }
        let assignment = cluster
            .assignment_info(&args.topology_id, true)?
            .ok_or_else(|| WorkerDaemonError::NoAssignment(args.topology_id.clone()))?;
        let executors = local_executors(&assignment, &args.supervisor_id, args.port);
        if executors.is_empty() {
            return Err(WorkerDaemonError::NotAssigned {
                topology: args.topology_id.clone(),
                node: args.supervisor_id.clone(),
                port: args.port,
            });
        }
        let active = storm_active(&cluster, &args.topology_id, true)?;

        // The system topology, for decoding tuples from other workers.
        let topo_config = {
            let mut c = Config::defaults();
            c.overlay(
                &merged,
                &crate::config::ConfigSource::Topology(args.topology_id.clone()),
            )?;
            c
        };
        // Storm reads the TLS keys from the topology conf (NettyTlsUtils); bad files stop the worker
        // here, before anything starts.
        let link_tls = crate::security::tls::LinkTls::from_conf(&topo_config)?;
        let conf_obj = topo_config.to_json();
        let system = system_topology(&topology, &conf_obj)
            .map_err(|e| WorkerDaemonError::Topology(e.to_string()))?;
        let context = Arc::new(
            WorkerTopologyContext::new(&args.topology_id, &system, Vec::new(), Some(args.port))
                .map_err(|e| WorkerDaemonError::Topology(e.to_string()))?,
        );
        java::start_if_needed(
            conf,
            &merged,
            &paths,
            &args,
            &topology,
            &system,
            context.task_to_component(),
            &executors,
        )?;
        let transport = TcpTransport::start(
            args.port,
            &args.topology_id,
            Arc::new(ContextResolver::new(context)),
            remote_tasks(&assignment, &args.supervisor_id, args.port),
            TransportOptions {
                auth: crate::transport::auth::LinkSecret::from_topology_conf(
                    &merged,
                    &args.topology_id,
                )?,
                tls: link_tls,
                ..TransportOptions::from_conf(conf)?
            },
        )?;
        let host = crate::config::local_hostname(conf);
        let worker = Worker::start(WorkerSpec {
            topology_id: args.topology_id.clone(),
            topology,
            conf: merged,
            executors: executors.clone(),
            port: Some(args.port),
            error_sink: Arc::new(ZkErrorSink {
                cluster: cluster.clone(),
                host,
                port: args.port,
            }),
            remote: Some(transport.clone() as Arc<dyn crate::executor::RemoteTransport>),
            active,
            exit_on_executor_death: true,
        });
        let worker = match worker {
            Ok(w) => w,
            Err(e) => {
                transport.shutdown();
                return Err(e.into());
            }
        };
        transport.attach(worker.router().clone());

        let heartbeats = LocalState::open(paths.worker_heartbeats(&args.worker_id))?;
        let secs = |key: &str| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(conf.get_u64(key)?.max(1)))
        };
        let mut running = RunningWorker {
            log_levels: log_levels::LogLevels::new(crate::logging::base_directives("info")),
            log_poll: secs("worker.log.level.reset.poll.secs")?,
            hb_every: secs("worker.heartbeat.frequency.secs")?,
            // Storm 2: executor stats go to ZooKeeper every `executor.metrics.frequency.secs`;
            // liveness travels by RPC (`rpc_beat`).
            zk_beat_every: secs("executor.metrics.frequency.secs")?,
            rpc_beat: rpc_beat::RpcBeat::start(&beat_conf).ok(),
            refresh_every: secs("task.refresh.poll.secs")?,
            stats_rate: conf.get_f64("topology.stats.sample.rate").unwrap_or(0.05),
            args,
            cluster,
            worker,
            transport,
            executors,
            heartbeats,
            start,
            events,
            events_tx,
            active,
        };
        running.local_heartbeat()?;
        running.zk_heartbeat();
        running.refresh_log_levels();
        tracing::info!(
            topology = %running.args.topology_id,
            port = running.args.port,
            worker_id = %running.args.worker_id,
            executors = ?running.executors,
            active,
            "worker ready"
        );
        Ok(running)
    }

    /// A sender that stops [`run`](Self::run) (signal handlers use it).
    pub fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let tx = self.events_tx.clone();
        move || {
            let _ = tx.send(Event::Stop);
        }
    }

    /// The bound slot address.
    pub fn local_addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }

    fn local_heartbeat(&self) -> Result<(), WorkerDaemonError> {
        let mut executors: Vec<ExecutorInfo> = self
            .executors
            .iter()
            .map(|&(s, e)| ExecutorInfo {
                task_start: s,
                task_end: e,
            })
            .collect();
        executors.push(ExecutorInfo {
            task_start: -1,
            task_end: -1,
        });
        let hb = LSWorkerHeartbeat {
            time_secs: now_secs() as i32,
            topology_id: self.args.topology_id.clone(),
            executors,
            port: i32::from(self.args.port),
        };
        self.heartbeats
            .put_keeping(LS_WORKER_HEARTBEAT, &hb, HEARTBEAT_VERSIONS)?;
        if let Some(rpc) = &self.rpc_beat {
            rpc.send(SupervisorWorkerHeartbeat {
                storm_id: hb.topology_id,
                executors: hb.executors,
                time_secs: hb.time_secs,
            });
        }
        Ok(())
    }

    fn zk_heartbeat(&self) {
        let executor_stats = self
            .worker
            .stats()
            .iter()
            .map(|s| {
                (
                    ExecutorInfo {
                        task_start: s.executor.0,
                        task_end: s.executor.1,
                    },
                    s.to_thrift(self.stats_rate),
                )
            })
            .collect();
        let hb = ClusterWorkerHeartbeat {
            storm_id: self.args.topology_id.clone(),
            executor_stats,
            time_secs: now_secs() as i32,
            uptime_secs: i32::try_from(self.start.elapsed().as_secs()).unwrap_or(i32::MAX),
        };
        if let Err(e) = self.cluster.worker_heartbeat(
            &self.args.topology_id,
            &self.args.supervisor_id,
            self.args.port,
            &hb,
        ) {
            tracing::warn!(topology = %self.args.topology_id, port = self.args.port, "cannot write the worker heartbeat to ZooKeeper: {e}");
        } else {
            tracing::debug!(topology = %self.args.topology_id, port = self.args.port, executors = hb.executor_stats.len(), "wrote the executor heartbeat to ZooKeeper");
        }
    }

    /// Compares the assignment with what runs here; `Some` when the worker must exit.
    fn check_assignment(&mut self) -> Option<ExitReason> {
        let assignment = match self.cluster.assignment_info(&self.args.topology_id, true) {
            Ok(Some(a)) => a,
            Ok(None) => return Some(ExitReason::AssignmentRemoved),
            Err(e) => {
                tracing::warn!(topology = %self.args.topology_id, "cannot read the assignment: {e}");
                return None;
            }
        };
        let now = local_executors(&assignment, &self.args.supervisor_id, self.args.port);
        if now != self.executors {
            let had: BTreeSet<_> = self.executors.iter().collect();
            let has: BTreeSet<_> = now.iter().collect();
            tracing::info!(
                topology = %self.args.topology_id,
                port = self.args.port,
                removed = ?had.difference(&has).collect::<Vec<_>>(),
                added = ?has.difference(&had).collect::<Vec<_>>(),
                "the assignment changed; this worker exits"
            );
            return Some(ExitReason::AssignmentChanged);
        }
        self.transport.set_remote_tasks(remote_tasks(
            &assignment,
            &self.args.supervisor_id,
            self.args.port,
        ));
        None
    }

    /// Reads `/logconfigs/<id>` (re-arming its watch) and applies the levels in force now.
    fn refresh_log_levels(&mut self) {
        match self
            .cluster
            .topology_log_config(&self.args.topology_id, true)
        {
            Ok(config) => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                self.log_levels
                    .apply(&self.args.topology_id, config.as_ref(), now_ms);
            }
            Err(e) => {
                tracing::warn!(topology = %self.args.topology_id, "cannot read the log config: {e}")
            }
        }
    }

    fn refresh_active(&mut self) {
        match storm_active(&self.cluster, &self.args.topology_id, true) {
            Ok(active) if active != self.active => {
                self.active = active;
                tracing::info!(topology = %self.args.topology_id, active, "topology status changed");
                if active {
                    self.worker.activate();
                } else {
                    self.worker.deactivate();
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topology = %self.args.topology_id, "cannot read the topology status: {e}")
            }
        }
    }

    /// Heartbeats and follows the cluster until the assignment changes or [`stopper`](Self::stopper)
    /// is called; then stops the executors and the transport.
    pub fn run(mut self) -> ExitReason {
        let now = Instant::now();
        let mut next_hb = now + self.hb_every;
        let mut next_zk = now + self.zk_beat_every;
        let mut next_refresh = now + self.refresh_every;
        let mut next_active = now + ACTIVE_POLL;
        let mut next_log = now + self.log_poll;
        let reason = loop {
            let deadline = next_hb
                .min(next_zk)
                .min(next_refresh)
                .min(next_active)
                .min(next_log);
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Event::Stop) => break ExitReason::Stopped,
                Ok(Event::AssignmentChanged) => {
                    if let Some(r) = self.check_assignment() {
                        break r;
                    }
                }
                Ok(Event::StormChanged) => self.refresh_active(),
                Ok(Event::LogConfigChanged) => self.refresh_log_levels(),
                Ok(Event::Resync) => {
                    self.refresh_active();
                    self.refresh_log_levels();
                    if let Some(r) = self.check_assignment() {
                        break r;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break ExitReason::Stopped,
            }
            let now = Instant::now();
            if now >= next_hb {
                if let Err(e) = self.local_heartbeat() {
                    tracing::error!(topology = %self.args.topology_id, "cannot write the local heartbeat: {e}");
                }
                next_hb = now + self.hb_every;
            }
            if now >= next_zk {
                self.zk_heartbeat();
                next_zk = now + self.zk_beat_every;
            }
            if now >= next_refresh {
                if let Some(r) = self.check_assignment() {
                    break r;
                }
                next_refresh = now + self.refresh_every;
            }
            if now >= next_active {
                self.refresh_active();
                next_active = now + ACTIVE_POLL;
            }
            if now >= next_log {
                // Levels whose timeout passed go back.
                self.refresh_log_levels();
                next_log = now + self.log_poll;
            }
        };
        tracing::info!(topology = %self.args.topology_id, port = self.args.port, ?reason, "worker stopping");
        self.worker.shutdown();
        self.transport.shutdown();
        self.cluster.disconnect();
        reason
    }
}

fn storm_active(
    cluster: &ClusterState,
    topology_id: &str,
    watch: bool,
) -> Result<bool, StorageError> {
    Ok(cluster
        .storm_base(topology_id, watch)?
        .is_some_and(|b| b.status == TopologyStatus::ACTIVE))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Touches `workers/<wid>/pids/<pid>` and writes `worker.pid` in the worker's artifacts directory.
fn write_pid_files(paths: &StormPaths, args: &WorkerArgs) -> Result<(), WorkerDaemonError> {
    let pid = std::process::id();
    let pid_file = paths.worker_pid_path(&args.worker_id, pid);
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| WorkerDaemonError::Io { what, path, source }
    };
    if let Some(dir) = pid_file.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    std::fs::write(&pid_file, b"").map_err(io("write", &pid_file))?;
    let artifacts_pid = paths.worker_artifacts_pid(&args.topology_id, args.port);
    if let Some(dir) = artifacts_pid.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    std::fs::write(&artifacts_pid, pid.to_string()).map_err(io("write", &artifacts_pid))?;
    Ok(())
}

/// The `worker` process: `worker [--config FILE] [-c k=v]… <topology-id> <supervisor-id> <port>
/// <worker-id>`. Returns when the assignment changed or on SIGTERM/SIGINT.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let stop = crate::daemon::block_stop_signals()?;
    let wargs = WorkerArgs::parse(&args.rest)?;
    let conf = worker_config(args)?;
    let paths = StormPaths::from_config(&conf)?;
    let log = paths.worker_log(&wargs.topology_id, wargs.port);
    crate::logging::init_worker(&log)
        .with_context(|| format!("cannot open the worker log {}", log.display()))?;
    write_pid_files(&paths, &wargs)?;
    let span = tracing::info_span!("worker", topology = %wargs.topology_id, port = wargs.port);
    let _enter = span.enter();

    // The worker's ZooKeeper session is the topology's (storm.zookeeper.topology.auth.*).
    let max_bytes = conf.get_u64("storm.compression.gzip.max.decompressed.bytes")?;
    let (_, topo_conf) = read_topology(&paths, &wargs.topology_id, max_bytes)?;
    let settings = crate::cluster::ZkSettings::for_worker(&conf, &topo_conf)?;
    let storage = crate::daemon::connect_zookeeper_with(settings)?;
    let running = match RunningWorker::start(&conf, storage, wargs) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("worker cannot start: {e}");
            return Err(e.into());
        }
    };
    let stopper = running.stopper();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let _ = crate::daemon::wait_for_stop(&stop, "worker");
            stopper();
        })
        .context("cannot start the signal thread")?;
    let reason = running.run();
    tracing::info!(?reason, "worker stopped");
    Ok(())
}

#[cfg(test)]
mod tests;

//! The `supervisor` daemon (Storm's `Supervisor`, `ReadClusterState`, `Slot`, `BasicContainer`;
//! reference §2.4, §3.4, ARCHITECTURE "Cluster contracts").
//!
//! * Identity: a persistent supervisor id (uuid) in `supervisor/isupervisor` (`LSSupervisorId`).
//! * Heartbeat: the ephemeral `/supervisors/<id>` (`SupervisorInfo`) at start and every
//!   `supervisor.heartbeat.frequency.secs`.
//! * Assignments: `/assignments` is watched ([`ClusterState::on_change`]) and re-read every 10 s; the
//!   executors whose `NodeInfo.node` is this supervisor become one `LocalAssignment` per port, handed to
//!   the slots.
//! * Slots: one thread per port of `supervisor.slots.ports`, each running Storm's state machine
//!   ([`slot`]); topology files are downloaded from the leader nimbus ([`localizer`]); workers are
//!   launched, watched through their local heartbeats, killed and cleaned up ([`container`]).
//! * Crash recovery: `local-assignments` and `approved-workers` in `supervisor/localstate`; a restarted
//!   supervisor re-adopts live workers, and kills workers under `workers/` that no slot owns.
//! * Shutdown (SIGTERM/SIGINT) stops heartbeating and closes the ZooKeeper session but leaves workers
//!   running, as Storm does; [`kill_all_workers`] (`storm kill_workers`) kills them.
//!
//! Config keys: `supervisor.slots.ports`, `supervisor.heartbeat.frequency.secs`,
//! `supervisor.worker.start.timeout.secs`, `supervisor.worker.timeout.secs`,
//! `topology.worker.timeout.secs` (from the topology conf, capped by `worker.max.timeout.secs`),
//! `supervisor.worker.shutdown.sleep.secs`, `supervisor.monitor.frequency.secs`,
//! `supervisor.scheduler.meta`, `supervisor.memory.capacity.mb`, `supervisor.cpu.capacity`,
//! `storm.local.hostname`, `nimbus.seeds`, `nimbus.thrift.port`.
//!
//! Not implemented: the supervisor Thrift service (`supervisor.thrift.port`), health checks, worker
//! heartbeats to nimbus over Thrift, blob updates, run-as-user, resource isolation, profiler actions.

pub mod blobs;
pub mod container;
pub mod localizer;
pub mod slot;
pub mod worker_beats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use thrift::OrderedFloat;

use crate::cluster::{ClusterState, StateStorage, Subtree};
use crate::config::Config;
use crate::daemon::DaemonArgs;
use crate::local_state::{LocalState, LS_ID};
use crate::paths::StormPaths;
use crate::thrift::server::{ServerOptions, ThriftServer};
use crate::thrift::{
    Assignment, LSSupervisorId, LocalAssignment, SupervisorInfo, SupervisorSyncProcessor,
};

use container::{LaunchSettings, SupervisorLocalState, WorkerProcess};
use localizer::{BlobSource, Localizer, SourceFactory};
use slot::{Localized, Slot, SlotEnv, SlotState, SlotTimeouts};

/// How often assignments are re-read without a watch event (Storm: 10 s, hard-coded).
pub const SYNC_PERIOD: Duration = Duration::from_secs(10);

/// How a supervisor is started besides its configuration.
#[derive(Clone, Default)]
pub struct SupervisorOptions {
    /// The supervisor's `--config` file (passed to workers as `STORM_CONF_FILE`).
    pub conf_file: Option<PathBuf>,
    /// The supervisor's `-c` overrides (passed to workers as `STORM_OPTIONS`).
    pub options: Vec<String>,
    /// The stock worker program; default: `$STORM_WORKER_BINARY`, else `worker` next to this
    /// executable.
    pub worker_binary: Option<PathBuf>,
    /// Where to download topology blobs from; default: the leader nimbus found with `getLeader`
    /// over `nimbus.seeds` (falling back to `/leader-lock`).
    pub leader: Option<SourceFactory>,
}

/// The persistent supervisor id from `supervisor/isupervisor`, created on first use.
pub fn supervisor_id(paths: &StormPaths) -> anyhow::Result<String> {
    let ls = LocalState::open(paths.supervisor_isupervisor())?;
    if let Some(id) = ls.get::<LSSupervisorId>(LS_ID)? {
        if !id.supervisor_id.is_empty() {
            return Ok(id.supervisor_id);
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    ls.put(LS_ID, &LSSupervisorId::new(id.clone()))?;
    Ok(id)
}

/// The local assignments of supervisor `supervisor_id` in `assignments` (topology id → assignment):
/// per port, the executors whose `NodeInfo.node` is this supervisor. Ports not in `ports` and ports
/// claimed by two topologies are left out (logged).
pub fn local_assignments(
    supervisor_id: &str,
    ports: &BTreeSet<u16>,
    assignments: &BTreeMap<String, Assignment>,
) -> BTreeMap<u16, LocalAssignment> {
    let mut out: BTreeMap<u16, LocalAssignment> = BTreeMap::new();
    let mut conflicts: BTreeSet<u16> = BTreeSet::new();
    for (topology_id, assignment) in assignments {
        let Some(enp) = &assignment.executor_node_port else {
            continue;
        };
        for (key, node) in enp {
            if node.node != supervisor_id {
                continue;
            }
            let Some(port) = node.first_port().and_then(|p| u16::try_from(p).ok()) else {
                continue;
            };
            if !ports.contains(&port) {
                tracing::warn!(
                    topology = %topology_id,
                    port,
                    "assignment names a port this supervisor does not have"
                );
                continue;
            }
            let Some(executor) = crate::thrift::ExecutorInfo::from_key(key) else {
                continue;
            };
            let entry = out.entry(port).or_insert_with(|| {
                let resources = assignment
                    .worker_resources
                    .as_ref()
                    .and_then(|r| r.get(node).cloned());
                LocalAssignment::new(
                    topology_id.clone(),
                    Vec::new(),
                    resources,
                    None,
                    assignment.owner.clone(),
                )
            });
            if entry.topology_id != *topology_id {
                conflicts.insert(port);
                continue;
            }
            entry.executors.push(executor);
        }
    }
    for port in conflicts {
        tracing::error!(
            port,
            "two topologies are assigned to one port; ignoring both"
        );
        out.remove(&port);
    }
    for a in out.values_mut() {
        a.executors.sort();
    }
    out
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The real environment of the slots.
struct RealEnv {
    settings: Arc<LaunchSettings>,
    state: SupervisorLocalState,
    localizer: Localizer,
}

impl SlotEnv for RealEnv {
    type W = WorkerProcess;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn now_secs(&self) -> i64 {
        now_secs()
    }

    fn localize(&self, topology_id: &str) -> Localized {
        self.localizer.request(topology_id)
    }

    fn launch(&self, port: u16, assignment: &LocalAssignment) -> Result<WorkerProcess, String> {
        WorkerProcess::launch(&self.settings, &self.state, port, assignment)
    }

    fn save_assignment(&self, port: u16, assignment: Option<&LocalAssignment>) {
        self.state.set_assignment(port, assignment);
    }
}

/// What the outside sees of a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    pub state: SlotState,
    /// The topology the slot runs or prepares.
    pub topology_id: Option<String>,
    pub worker_id: Option<String>,
}

#[derive(Default)]
struct SlotInbox {
    /// A new desired assignment not yet seen by the slot thread.
    update: Option<Option<LocalAssignment>>,
    stop: bool,
    status: Option<SlotStatus>,
}

struct SlotShared {
    inbox: Mutex<SlotInbox>,
    cv: Condvar,
}

impl SlotShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotInbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn run_slot(mut slot: Slot<WorkerProcess>, env: RealEnv, shared: Arc<SlotShared>) {
    loop {
        {
            let mut inbox = shared.lock();
            if inbox.stop {
                return;
            }
            if let Some(update) = inbox.update.take() {
                slot.set_desired(update);
            }
        }
        let wait = slot.step(&env);
        let status = SlotStatus {
            state: slot.state(),
            topology_id: slot.current().map(|a| a.topology_id.clone()),
            worker_id: slot.worker_id().map(str::to_string),
        };
        let mut inbox = shared.lock();
        inbox.status = Some(status);
        let deadline = Instant::now() + wait;
        while !inbox.stop && inbox.update.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            inbox = shared
                .cv
                .wait_timeout(inbox, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

struct SlotHandle {
    port: u16,
    shared: Arc<SlotShared>,
}

/// Wakes a background loop early, or stops it.
#[derive(Default)]
struct Waker {
    state: Mutex<(bool, bool)>, // (woken, stopped)
    cv: Condvar,
}

impl Waker {
    fn wake(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = true;
        self.cv.notify_all();
    }
    fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.cv.notify_all();
    }
    /// Waits up to `timeout` for a wake; returns false once stopped.
    fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !st.0 && !st.1 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.0 = false;
        !st.1
    }
}

struct Inner {
    id: String,
    conf: Config,
    paths: StormPaths,
    cluster: ClusterState,
    hostname: String,
    ports: BTreeSet<u16>,
    started: Instant,
    slots: Vec<SlotHandle>,
    localizer: Localizer,
    stopped: AtomicBool,
    sync_waker: Waker,
    hb_waker: Waker,
    blob_waker: Waker,
    report_waker: Waker,
}

impl Inner {
    /// One round of the distributed cache: fetches new versions of the blobs in the
    /// `topology.blobstore.map` of every topology running here (restarting the topology's workers
    /// here for entries with `workerRestart`), then evicts unused blobs when the cache is over
    /// `supervisor.localizer.cache.target.size.mb`.
    fn update_blobs(&self) {
        use blobs::{blobstore_map, cache_user, link_blob, UserCache};
        let statuses = self.slot_statuses();
        let running: BTreeSet<String> = statuses
            .values()
            .filter_map(|s| s.topology_id.clone())
            .chain(self.localizer.in_progress())
            .collect();
        let cache = UserCache::new(
            self.paths.supervisor_usercache(),
            self.paths.supervisor_tmp(),
        );
        let mut in_use = BTreeSet::new();
        let mut work = Vec::new();
        for id in &running {
            if !localizer::is_localized(&self.paths, id) {
                continue;
            }
            let conf = container::read_topology_conf(&self.paths, id);
            let user = cache_user(&conf);
            for entry in blobstore_map(&conf).unwrap_or_default() {
                in_use.insert((user.clone(), entry.uncompress, entry.key.clone()));
                work.push((id.clone(), user.clone(), entry));
            }
        }
        let mut restart = BTreeSet::new();
        if !work.is_empty() {
            match self.localizer.open_source() {
                Ok(mut source) => {
                    for (id, user, entry) in &work {
                        match cache.localize(source.as_mut(), user, entry) {
                            Ok(true) => {
                                tracing::info!(topology = %id, key = %entry.key, localname = %entry.localname, "a new version of the blob is in place");
                                let dist = self.paths.supervisor_stormdist(id);
                                if let Err(e) = link_blob(&dist, entry, &cache.current(user, entry))
                                {
                                    tracing::warn!(topology = %id, key = %entry.key, "cannot link the blob: {e}");
                                }
                                if entry.worker_restart {
                                    restart.insert(id.clone());
                                }
                            }
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(topology = %id, key = %entry.key, "cannot update the blob: {e}")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("cannot check blobs for updates: {e}"),
            }
        }
        for (port, status) in &statuses {
            let (Some(id), Some(wid)) = (&status.topology_id, &status.worker_id) else {
                continue;
            };
            if restart.contains(id) {
                tracing::info!(topology = %id, port, worker = %wid, "restarting the worker for its updated blob (workerRestart)");
                for pid in container::worker_pids(&self.paths, wid) {
                    container::signal_process(pid, nix::sys::signal::Signal::SIGTERM);
                }
            }
        }
        let target = self
            .conf
            .get_u64("supervisor.localizer.cache.target.size.mb")
            .unwrap_or(10240)
            .saturating_mul(1 << 20);
        cache.cleanup(&in_use, target);
    }

    fn slot_statuses(&self) -> BTreeMap<u16, SlotStatus> {
        self.slots
            .iter()
            .filter_map(|s| Some((s.port, s.shared.lock().status.clone()?)))
            .collect()
    }

    /// Storm's `ReportWorkerHeartbeats`: this supervisor's workers' local heartbeats, in one call
    /// to the leader nimbus (skipped, logged, when no nimbus answers).
    fn report_worker_heartbeats(&self) {
        let beats = worker_beats::local_worker_heartbeats(&self.paths, &self.id);
        let n = beats.worker_heartbeats.len();
        let sent = crate::client::NimbusClient::connect_leader(&self.conf)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                use crate::thrift::TNimbusSyncClient;
                c.raw()
                    .send_supervisor_worker_heartbeats(beats)
                    .map_err(|e| e.to_string())
            });
        match sent {
            Ok(()) => tracing::debug!(workers = n, "reported worker heartbeats to nimbus"),
            Err(e) => tracing::warn!(
                workers = n,
                "cannot report worker heartbeats to nimbus: {e}"
            ),
        }
    }

    fn heartbeat(&self) {
        let used: Vec<i64> = self
            .slot_statuses()
            .iter()
            .filter(|(_, s)| s.topology_id.is_some())
            .map(|(p, _)| i64::from(*p))
            .collect();
        let scheduler_meta: BTreeMap<String, String> = self
            .conf
            .get("supervisor.scheduler.meta")
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut resources = BTreeMap::new();
        for key in ["supervisor.memory.capacity.mb", "supervisor.cpu.capacity"] {
            if let Ok(v) = self.conf.get_f64(key) {
                resources.insert(key.to_string(), OrderedFloat(v));
            }
        }
        let info = SupervisorInfo::new(
            now_secs(),
            self.hostname.clone(),
            Some(self.id.clone()),
            Some(used),
            Some(self.ports.iter().map(|p| i64::from(*p)).collect::<Vec<_>>()),
            Some(scheduler_meta),
            Some(self.started.elapsed().as_secs() as i64),
            Some(crate::STORM_VERSION.to_string()),
            Some(resources),
            None,
        );
        if let Err(e) = self.cluster.supervisor_heartbeat(&self.id, &info) {
            tracing::warn!("cannot write the supervisor heartbeat: {e}");
        }
    }

    /// Reads `/assignments` (re-arming the watches) and hands each slot its assignment.
    fn sync(&self) {
        let ids = match self.cluster.assignments(true) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("cannot read assignments: {e}");
                return;
            }
        };
        let mut all = BTreeMap::new();
        for id in ids {
            match self.cluster.assignment_info(&id, true) {
                Ok(Some(a)) => {
                    all.insert(id, a);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(topology = %id, "cannot read the assignment: {e}");
                    return;
                }
            }
        }
        let mine = local_assignments(&self.id, &self.ports, &all);
        let mut keep: BTreeSet<String> = mine.values().map(|a| a.topology_id.clone()).collect();
        for slot in &self.slots {
            let desired = mine.get(&slot.port).cloned();
            let mut inbox = slot.shared.lock();
            if let Some(t) = inbox.status.as_ref().and_then(|s| s.topology_id.clone()) {
                keep.insert(t);
            }
            inbox.update = Some(desired);
            slot.shared.cv.notify_all();
        }
        self.localizer.remove_unused(&keep);
    }
}

/// A running supervisor.
pub struct Supervisor {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
    slot_threads: Vec<JoinHandle<()>>,
    callback: Option<crate::cluster::CallbackId>,
    server: Option<ThriftServer>,
}

impl Supervisor {
    /// Starts a supervisor over `storage` (ZooKeeper or in-memory): recovers slots from the local
    /// state, kills unowned workers, heartbeats, and starts the slot and sync threads.
    pub fn start(
        conf: &Config,
        storage: Arc<dyn StateStorage>,
        opts: SupervisorOptions,
    ) -> anyhow::Result<Supervisor> {
        let paths = StormPaths::from_config(conf)?;
        let tmp = paths.supervisor_tmp();
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("cannot clean {}", tmp.display()))?;
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let id = supervisor_id(&paths)?;
        let ports: BTreeSet<u16> = conf
            .get_i64_list("supervisor.slots.ports")?
            .into_iter()
            .map(|p| {
                u16::try_from(p)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| anyhow::anyhow!("supervisor.slots.ports: {p} is not a port"))
            })
            .collect::<anyhow::Result<_>>()?;
        let secs =
            |k: &str| -> anyhow::Result<Duration> { Ok(Duration::from_secs(conf.get_u64(k)?)) };
        let timeouts = SlotTimeouts {
            worker_start: secs("supervisor.worker.start.timeout.secs")?,
            shutdown_sleep: secs("supervisor.worker.shutdown.sleep.secs")?,
            monitor: secs("supervisor.monitor.frequency.secs")?.max(Duration::from_millis(100)),
            ..SlotTimeouts::default()
        };
        let heartbeat_every =
            secs("supervisor.heartbeat.frequency.secs")?.max(Duration::from_millis(100));
        let settings = Arc::new(LaunchSettings::from_config(
            conf,
            paths.clone(),
            &id,
            opts.worker_binary.clone(),
            opts.conf_file.clone(),
            opts.options.clone(),
        )?);
        let state = SupervisorLocalState::open(&paths)?;
        let cluster = ClusterState::new(storage.clone())?;
        let resolver = opts
            .leader
            .clone()
            .unwrap_or_else(|| default_leader_resolver(conf.clone(), storage.clone()));
        let localizer = Localizer::new(paths.clone(), resolver);

        // Recover slots from local-assignments + approved-workers.
        let saved = state.assignments();
        let approved = state.approved();
        let mut owned: BTreeSet<String> = BTreeSet::new();
        let mut slots = Vec::new();
        for &port in &ports {
            let recovered = saved.get(&i32::from(port)).and_then(|a| {
                if !localizer::is_localized(&paths, &a.topology_id) {
                    return None;
                }
                let wid = approved
                    .iter()
                    .filter(|(w, p)| **p == i32::from(port) && paths.worker_root(w).is_dir())
                    .max_by_key(|(w, _)| container::read_heartbeat(&paths, w).map(|h| h.time_secs))
                    .map(|(w, _)| w.clone())?;
                Some((a.clone(), wid))
            });
            let slot = match recovered {
                Some((a, wid)) => {
                    tracing::info!(port, worker = %wid, topology = %a.topology_id, "re-adopting worker");
                    owned.insert(wid.clone());
                    let w = WorkerProcess::recover(&settings, &state, &wid, &a.topology_id);
                    Slot::recovered(port, timeouts, a, w, Instant::now())
                }
                None => {
                    state.set_assignment(port, None);
                    Slot::new(port, timeouts)
                }
            };
            slots.push(slot);
        }
        for port in saved.keys() {
            if u16::try_from(*port).map_or(true, |p| !ports.contains(&p)) {
                if let Ok(p) = u16::try_from(*port) {
                    state.set_assignment(p, None);
                }
            }
        }
        for wid in container::worker_dirs(&paths) {
            if !owned.contains(&wid) {
                tracing::info!(worker = %wid, "killing a worker no slot owns");
                container::kill_orphan(&paths, &state, &wid, timeouts.shutdown_sleep);
            }
        }
        for wid in approved.keys() {
            if !owned.contains(wid) {
                state.unapprove(wid);
            }
        }

        let mut handles = Vec::new();
        let mut slot_threads = Vec::new();
        for slot in slots {
            let port = slot.port();
            let shared = Arc::new(SlotShared {
                inbox: Mutex::new(SlotInbox {
                    status: Some(SlotStatus {
                        state: slot.state(),
                        topology_id: slot.current().map(|a| a.topology_id.clone()),
                        worker_id: slot.worker_id().map(str::to_string),
                    }),
                    ..SlotInbox::default()
                }),
                cv: Condvar::new(),
            });
            let env = RealEnv {
                settings: settings.clone(),
                state: state.clone(),
                localizer: localizer.clone(),
            };
            let s = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("slot-{port}"))
                .spawn(move || run_slot(slot, env, s))
                .context("cannot start a slot thread")?;
            slot_threads.push(thread);
            handles.push(SlotHandle { port, shared });
        }

        let inner = Arc::new(Inner {
            id,
            conf: conf.clone(),
            paths,
            cluster,
            hostname: crate::config::local_hostname(conf),
            ports,
            started: Instant::now(),
            slots: handles,
            localizer,
            stopped: AtomicBool::new(false),
            sync_waker: Waker::default(),
            hb_waker: Waker::default(),
            blob_waker: Waker::default(),
            report_waker: Waker::default(),
        });
        // Storm's `Supervisor` Thrift service, which local workers heartbeat to. A port in use (two
        // supervisors on one host with the same `supervisor.thrift.port`) is logged, not fatal: the
        // workers then heartbeat to nimbus directly, as Storm's do when their supervisor is down.
        let thrift_port = conf.get_port("supervisor.thrift.port")?;
        let transport = Arc::new(crate::security::ServerTransport::from_conf(
            conf,
            crate::security::ConnectionType::Supervisor,
        )?);
        // TLS on the same port when supervisor.thrift.transport names TlsTransportPlugin (Storm's
        // SUPERVISOR_TLS); bad certificate files stop the supervisor here.
        let tls =
            crate::security::tls::server_for(conf, crate::security::ConnectionType::Supervisor)?
                .map(Arc::new);
        if tls.is_some() {
            tracing::info!(port = thrift_port, "supervisor.thrift.port serves TLS only");
        }
        let server = match ThriftServer::start(
            "supervisor",
            &format!("0.0.0.0:{thrift_port}"),
            SupervisorSyncProcessor::new(worker_beats::SupervisorHandler {
                paths: inner.paths.clone(),
            }),
            ServerOptions {
                max_frame_bytes: usize::try_from(
                    conf.get_u64("supervisor.thrift.max_buffer_size")?,
                )
                .unwrap_or(usize::MAX)
                .max(1),
                max_connections: usize::try_from(conf.get_u64("supervisor.thrift.threads")?)
                    .unwrap_or(usize::MAX)
                    .max(1),
                transport,
                tls,
                ..ServerOptions::default()
            },
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(port = thrift_port, "cannot serve supervisor.thrift.port = {thrift_port}: {e}; workers will heartbeat to nimbus directly (set a free port with -c supervisor.thrift.port=PORT)");
                None
            }
        };
        let mut sup = Supervisor {
            inner: inner.clone(),
            threads: Vec::new(),
            slot_threads,
            callback: None,
            server,
        };
        inner.heartbeat();

        let weak = Arc::downgrade(&inner);
        sup.callback = Some(inner.cluster.on_change(
            Subtree::Assignments,
            Arc::new(move |_| {
                if let Some(i) = weak.upgrade() {
                    i.sync_waker.wake();
                }
            }),
        ));
        let i = inner.clone();
        sup.threads.push(
            std::thread::Builder::new()
                .name("supervisor-heartbeat".into())
                .spawn(move || {
                    while i.hb_waker.wait(heartbeat_every) {
                        i.heartbeat();
                    }
                })
                .context("cannot start the heartbeat thread")?,
        );
        let report_every = secs("worker.heartbeat.frequency.secs")?.max(Duration::from_secs(1));
        let i = inner.clone();
        sup.threads.push(
            std::thread::Builder::new()
                .name("supervisor-report-worker-beats".into())
                .spawn(move || {
                    while i.report_waker.wait(report_every) {
                        i.report_worker_heartbeats();
                    }
                })
                .context("cannot start the worker heartbeat report thread")?,
        );
        let blob_every =
            secs("supervisor.localizer.update.blob.interval.secs")?.max(Duration::from_secs(1));
        let i = inner.clone();
        sup.threads.push(
            std::thread::Builder::new()
                .name("supervisor-blobs".into())
                .spawn(move || {
                    while i.blob_waker.wait(blob_every) {
                        i.update_blobs();
                    }
                })
                .context("cannot start the blob update thread")?,
        );
        let i = inner.clone();
        sup.threads.push(
            std::thread::Builder::new()
                .name("supervisor-sync".into())
                .spawn(move || loop {
                    i.sync();
                    if !i.sync_waker.wait(SYNC_PERIOD) {
                        return;
                    }
                })
                .context("cannot start the sync thread")?,
        );
        tracing::info!(
            id = %inner.id,
            host = %inner.hostname,
            ports = ?inner.ports,
            "supervisor started"
        );
        Ok(sup)
    }

    /// The supervisor id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn paths(&self) -> &StormPaths {
        &self.inner.paths
    }

    /// The state of every slot, by port.
    pub fn slots(&self) -> BTreeMap<u16, SlotStatus> {
        self.inner.slot_statuses()
    }

    /// Re-reads the assignments now (instead of waiting for a watch or the 10 s period).
    pub fn sync_now(&self) {
        self.inner.sync_waker.wake();
    }

    /// Stops the slots, the sync and the heartbeat, and closes the cluster-state session (the
    /// ephemeral `/supervisors/<id>` vanishes). Workers keep running.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(cb) = self.callback.take() {
            self.inner.cluster.remove_callback(cb);
        }
        self.inner.sync_waker.stop();
        self.inner.hb_waker.stop();
        self.inner.blob_waker.stop();
        self.inner.report_waker.stop();
        if let Some(mut server) = self.server.take() {
            server.shutdown();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for slot in &self.inner.slots {
            slot.shared.lock().stop = true;
            slot.shared.cv.notify_all();
        }
        for t in self.slot_threads.drain(..) {
            let _ = t.join();
        }
        self.inner.cluster.disconnect();
        tracing::info!(id = %self.inner.id, "supervisor stopped (workers left running)");
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The default download source: the leader nimbus (`getLeader` over `nimbus.seeds`, else the first
/// `/leader-lock` participant), over Thrift.
pub fn default_leader_resolver(conf: Config, storage: Arc<dyn StateStorage>) -> SourceFactory {
    Arc::new(move || {
        let client = match crate::client::NimbusClient::connect_leader(&conf) {
            Ok(c) => c,
            Err(e) => {
                let from_zk = crate::cluster::current_leader(storage.as_ref())
                    .map_err(|z| format!("{e}; /leader-lock: {z}"))?
                    .ok_or_else(|| format!("{e}; no nimbus holds /leader-lock"))?;
                let timeout = Duration::from_millis(
                    conf.get_u64("storm.thrift.socket.timeout.ms")
                        .unwrap_or(600_000),
                );
                // TLS to the leader's nimbus.thrift.tls.port when nimbus.thrift.client.use.tls.
                let advertised = crate::cluster::ClusterState::new(storage.clone())
                    .and_then(|c| c.nimbuses())
                    .ok()
                    .and_then(|ns| {
                        ns.into_iter()
                            .find(|n| format!("{}:{}", n.host, n.port) == from_zk)
                    })
                    .and_then(|n| n.tls_port);
                let (transport, addr) = crate::client::nimbus_peer(&conf, &from_zk, advertised)
                    .map_err(|z| z.to_string())?;
                crate::client::NimbusClient::connect(&addr, timeout, &transport)
                    .map_err(|z| format!("{e}; the leader in /leader-lock, {addr}: {z}"))?
            }
        };
        Ok(Box::new(client) as Box<dyn BlobSource>)
    })
}

/// Kills every worker under `workers/` (SIGTERM, `supervisor.worker.shutdown.sleep.secs`, SIGKILL),
/// removes their directories and clears the slots' local state (`storm kill_workers`).
pub fn kill_all_workers(conf: &Config) -> anyhow::Result<usize> {
    let paths = StormPaths::from_config(conf)?;
    let grace = Duration::from_secs(conf.get_u64("supervisor.worker.shutdown.sleep.secs")?);
    let state = SupervisorLocalState::open(&paths)?;
    let ids = container::worker_dirs(&paths);
    for wid in &ids {
        container::kill_orphan(&paths, &state, wid, grace);
    }
    state.clear();
    Ok(ids.len())
}

/// The `supervisor` daemon: loads the configuration, logs to `<storm.log.dir>/supervisor.log`, runs
/// until SIGTERM or SIGINT, then stops heartbeating and closes its ZooKeeper session, leaving the
/// workers running.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    crate::daemon::run(
        "supervisor",
        args,
        |conf| {
            let storage = crate::daemon::connect_zookeeper(conf)?;
            Supervisor::start(
                conf,
                storage,
                SupervisorOptions {
                    // The file actually read (also the default conf/storm.toml, which a worker would
                    // not find from its own working directory).
                    conf_file: args
                        .config
                        .clone()
                        .or_else(|| conf.file().map(std::path::Path::to_path_buf)),
                    options: args.conf.clone(),
                    worker_binary: None,
                    leader: None,
                },
            )
        },
        Supervisor::shutdown,
    )
}

#[cfg(test)]
mod tests;

//! The nimbus core: topology submission, the status machine, code uploads and cluster summaries, over
//! a [`ClusterState`] and the local `nimbus/` directory tree. No Thrift here (see [`super::handler`]);
//! every operation returns a [`NimbusError`] that the handler maps to Storm's declared exceptions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use thrift::OrderedFloat;

use super::blobstore::{BlobError, BlobStore};
use super::heartbeats::{HeartbeatCache, Recovery};
use super::replication::{stormcode_key, stormconf_key, stormjar_key, topology_keys};
use crate::cluster::acl;
use crate::cluster::{
    ClusterState, LeaderElector, StateStorage, StorageError, StormBaseUpdate, TopologyAcls,
};
use crate::config::Config;
use crate::paths::StormPaths;
use crate::thrift::{
    Assignment, ClusterSummary, ComponentObject, Credentials, KillOptions, NimbusSummary,
    StormBase, StormTopology, SupervisorSummary, SupervisorWorkerHeartbeat,
    SupervisorWorkerHeartbeats, TopologyActionOptions, TopologyInitialStatus, TopologyStatus,
    TopologySummary,
};
use crate::topology::system::{
    all_components, normalize_topology, parallelism_hint, system_topology, task_to_component,
};

/// Storm's `Nimbus.TOPOLOGY_NAME_REGEX`, as its error message prints it.
pub const TOPOLOGY_NAME_PATTERN: &str = r"^[^/.:\\]+$";

/// The first bytes of a Java-serialized object (`ObjectOutputStream`'s stream magic).
const JAVA_SERIALIZATION_MAGIC: [u8; 2] = [0xAC, 0xED];

/// Uploads open at once (each holds a file descriptor until finished or expired).
const MAX_OPEN_UPLOADS: usize = 256;

/// How often the leadership watcher looks at the election.
const LEADERSHIP_POLL: Duration = Duration::from_millis(500);

/// What went wrong, shaped like the exceptions Storm's nimbus throws.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NimbusError {
    /// `AlreadyAliveException`.
    #[error("{0}")]
    AlreadyAlive(String),
    /// `NotAliveException`.
    #[error("{0}")]
    NotAlive(String),
    /// `InvalidTopologyException`.
    #[error("{0}")]
    InvalidTopology(String),
    /// `KeyNotFoundException` (blob store).
    #[error("{0}")]
    KeyNotFound(String),
    /// `KeyAlreadyExistsException` (blob store).
    #[error("{0}")]
    KeyAlreadyExists(String),
    /// `IllegalStateException` (deleting a blob a live topology uses).
    #[error("{0}")]
    IllegalState(String),
    /// `AuthorizationException` (`nimbus.authorizer` refused the call).
    #[error("{0}")]
    Authorization(String),
    /// Anything else (Storm's `RuntimeException`s, which clients see as `TApplicationException`).
    #[error("{0}")]
    Internal(String),
}

impl From<BlobError> for NimbusError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::KeyNotFound(k) => NimbusError::KeyNotFound(k),
            BlobError::KeyAlreadyExists(k) => NimbusError::KeyAlreadyExists(k),
            BlobError::IllegalState(m) => NimbusError::IllegalState(m),
            BlobError::Other(m) => NimbusError::Internal(m),
        }
    }
}

impl From<StorageError> for NimbusError {
    fn from(e: StorageError) -> Self {
        NimbusError::Internal(format!("ZooKeeper: {e}"))
    }
}

pub(super) type Result<T> = std::result::Result<T, NimbusError>;

fn io_error(what: &str, path: &Path, e: std::io::Error) -> NimbusError {
    NimbusError::Internal(format!("cannot {what} {}: {e}", path.display()))
}

/// Whether `name` matches [`TOPOLOGY_NAME_PATTERN`].
pub fn is_valid_topology_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '.', ':', '\\'])
}

/// Storm's `validateTopologyName`.
pub fn validate_topology_name(name: &str) -> Result<()> {
    if is_valid_topology_name(name) {
        Ok(())
    } else {
        Err(NimbusError::InvalidTopology(format!(
            "Topology name must match {TOPOLOGY_NAME_PATTERN}"
        )))
    }
}

/// Storm's topology id: `<name>-<submission counter>-<epoch seconds>`.
pub fn topology_id(name: &str, counter: u64, now_secs: i64) -> String {
    format!("{name}-{counter}-{now_secs}")
}

/// Storm's `TopologyActions` that storm-rs's nimbus handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologyAction {
    Activate,
    Inactivate,
    Rebalance,
    Kill,
    DoRebalance,
    Remove,
}

impl TopologyAction {
    /// Storm's enum name.
    pub fn name(self) -> &'static str {
        match self {
            TopologyAction::Activate => "ACTIVATE",
            TopologyAction::Inactivate => "INACTIVATE",
            TopologyAction::Rebalance => "REBALANCE",
            TopologyAction::Kill => "KILL",
            TopologyAction::DoRebalance => "DO_REBALANCE",
            TopologyAction::Remove => "REMOVE",
        }
    }
}

/// What a transition does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to write.
    Noop,
    /// Write this status.
    To(TopologyStatus),
    /// Remove the topology.
    Remove,
    /// Apply the pending rebalance, reschedule, and return to the previous status.
    DoRebalance,
}

/// Storm's `TOPO_STATE_TRANSITIONS` (reference §3.7); `None` = no transition.
pub fn transition(status: TopologyStatus, action: TopologyAction) -> Option<Transition> {
    use TopologyAction as A;
    match (status, action) {
        (_, A::Kill) => Some(Transition::To(TopologyStatus::KILLED)),
        (TopologyStatus::ACTIVE, A::Activate) | (TopologyStatus::INACTIVE, A::Inactivate) => {
            Some(Transition::Noop)
        }
        (TopologyStatus::ACTIVE, A::Inactivate) => Some(Transition::To(TopologyStatus::INACTIVE)),
        (TopologyStatus::INACTIVE, A::Activate) => Some(Transition::To(TopologyStatus::ACTIVE)),
        (TopologyStatus::ACTIVE | TopologyStatus::INACTIVE, A::Rebalance) => {
            Some(Transition::To(TopologyStatus::REBALANCING))
        }
        (TopologyStatus::REBALANCING, A::DoRebalance) => Some(Transition::DoRebalance),
        (TopologyStatus::KILLED, A::Remove) => Some(Transition::Remove),
        _ => None,
    }
}

/// A status's name (`ACTIVE`, …), or its number when unknown.
pub fn status_name(status: TopologyStatus) -> String {
    status
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| status.0.to_string())
}

/// Storm's text for a missing transition.
pub fn no_transition(action: TopologyAction, status: TopologyStatus, id: &str) -> NimbusError {
    NimbusError::Internal(format!(
        "No transition for event: {}, status: {} storm-id: {id}",
        action.name(),
        status_name(status)
    ))
}

/// The text of every method storm-rs's nimbus does not implement.
pub fn unsupported(method: &str) -> NimbusError {
    NimbusError::Internal(format!("{method} is not supported by storm-rs yet"))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn to_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

pub(super) fn json_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a submitted `jsonConf` (must be a JSON object; `null`/empty is an empty conf).
pub fn parse_topology_conf(json: &str) -> Result<Map<String, Value>> {
    if json.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(NimbusError::InvalidTopology(
            "Topology conf is not a JSON object".into(),
        )),
        Err(e) => Err(NimbusError::InvalidTopology(format!(
            "Topology conf is not valid JSON: {e}"
        ))),
    }
}

/// Checks that every component object is one a worker can run: a storm-rs component (`STORMRS1`), a
/// Java-serialized object (`AC ED 00 05`, run in the worker's embedded JVM), a `JavaObject` naming a
/// class, or a shell component. Anything else (bytes of no known form, a `JavaObject` without a class
/// name, state spouts) is refused with the component's name.
pub fn check_component_objects(t: &StormTopology) -> Result<()> {
    let objects = t
        .spouts
        .iter()
        .map(|(id, s)| (id, &s.spout_object))
        .chain(t.bolts.iter().map(|(id, b)| (id, &b.bolt_object)));
    for (id, object) in objects {
        match object {
            ComponentObject::SerializedJava(bytes) => {
                if bytes.starts_with(&JAVA_SERIALIZATION_MAGIC) {
                    if let Err(why) = crate::api::java_serialized_class(bytes) {
                        return Err(NimbusError::InvalidTopology(format!(
                            "Component {id} is not a valid Java-serialized object: {why}"
                        )));
                    }
                } else if !bytes.starts_with(crate::api::RUST_COMPONENT_MAGIC) {
                    return Err(NimbusError::InvalidTopology(format!(
                        "Component {id} has serialized_java bytes that are neither a Java-serialized \
                         object (AC ED 00 05) nor a storm-rs component (STORMRS1); rebuild the \
                         topology with Storm's TopologyBuilder or storm-rs's"
                    )));
                }
            }
            ComponentObject::JavaObject(o) if o.full_class_name.trim().is_empty() => {
                return Err(NimbusError::InvalidTopology(format!(
                    "Component {id} is a java_object without a class name"
                )));
            }
            ComponentObject::JavaObject(_) | ComponentObject::Shell(_) => {}
        }
    }
    if !t.state_spouts.is_empty() {
        return Err(NimbusError::InvalidTopology(
            "State spouts are not supported by storm-rs".into(),
        ));
    }
    Ok(())
}

/// Whether a topology has components only a JVM can run (Java-serialized objects, `JavaObject`s),
/// or Java-serialized custom groupings.
pub fn has_jvm_components(t: &StormTopology) -> bool {
    crate::api::has_java_components(t)
}

/// Storm's `normalizeConf` (the parts that apply without security or kryo): the saved topology conf.
pub fn normalize_conf(
    cluster: &Map<String, Value>,
    topo: &Map<String, Value>,
    id: &str,
    name: &str,
    owner: &str,
) -> Map<String, Value> {
    let mut merged = cluster.clone();
    merged.extend(topo.clone());
    let mut ret = topo.clone();
    ret.insert("storm.id".into(), Value::from(id));
    ret.insert("topology.name".into(), Value::from(name));
    for key in [
        "topology.acker.executors",
        "topology.eventlogger.executors",
        "topology.max.task.parallelism",
    ] {
        if let Some(v) = merged.get(key) {
            ret.insert(key.into(), v.clone());
        }
    }
    if let (Some(timeout), Some(max)) = (
        json_int(merged.get("topology.worker.timeout.secs")),
        json_int(merged.get("worker.max.timeout.secs")),
    ) {
        if timeout > max {
            ret.insert("topology.worker.timeout.secs".into(), Value::from(max));
        }
    }
    // Storm: workers use TLS to nimbus when the daemon or the topology asks for it, through the
    // client key the worker's nimbus client reads.
    let worker_tls = |m: &Map<String, Value>| {
        m.get(crate::security::tls::WORKER_NIMBUS_CLIENT_USE_TLS)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let use_tls = worker_tls(cluster) || worker_tls(topo);
    ret.insert(
        crate::security::tls::WORKER_NIMBUS_CLIENT_USE_TLS.into(),
        Value::from(use_tls),
    );
    ret.insert(
        crate::security::tls::NIMBUS_CLIENT_USE_TLS.into(),
        Value::from(use_tls),
    );
    ret.insert("topology.submitter.principal".into(), Value::from(""));
    ret.insert("topology.submitter.user".into(), Value::from(owner));
    ret.remove("storm.local.hostname");
    ret
}

pub(super) fn merged_conf(
    cluster: &Map<String, Value>,
    topo: &Map<String, Value>,
) -> Map<String, Value> {
    let mut total = cluster.clone();
    total.extend(topo.clone());
    total
}

/// The keys whose values Storm's nimbus never hands out (`Utils.redactValue`).
pub const REDACTED_KEYS: [&str; 2] = [
    "storm.zookeeper.topology.auth.payload",
    "storm.zookeeper.auth.payload",
];

/// Replaces every secret value with Storm's `#` mask of the same length (Storm's keys, and every
/// key that looks secret: see [`crate::security::secrets`]).
pub fn redact_secrets(conf: &mut Map<String, Value>) {
    crate::security::secrets::redact(conf);
}

pub(super) struct Upload {
    file: File,
    touched: Instant,
}

/// What nimbus remembers about a topology it holds the code of.
#[derive(Clone, Debug)]
pub(super) struct TopoFacts {
    pub(super) num_tasks: i32,
    pub(super) message_timeout_secs: i64,
    /// Task id → component id (the system topology's numbering).
    pub(super) tasks: Arc<BTreeMap<i32, String>>,
    /// The executor heartbeat timeout: `max(nimbus.task.timeout.secs, topology.worker.timeout.secs)`.
    pub(super) heartbeat_timeout_secs: i64,
    /// Component id → what one of its executors requests.
    pub(super) resources: Arc<BTreeMap<String, Resources>>,
    /// The ACLs of the topology's znodes (from its ZooKeeper auth payload).
    pub(super) zk_acls: TopologyAcls,
}

/// What one executor requests (Storm's `topology.component.resources.*` / `cpu.pcore.percent`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resources {
    pub on_heap_mb: f64,
    pub off_heap_mb: f64,
    pub cpu: f64,
}

impl std::ops::AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        self.on_heap_mb += o.on_heap_mb;
        self.off_heap_mb += o.off_heap_mb;
        self.cpu += o.cpu;
    }
}

/// Each component's per-executor request, as Storm's `ResourceUtils` reads it: the component's
/// own `json_conf`, else the topology conf (`__acker` from `topology.acker.*`, as Storm's
/// `StormCommon.addAcker` sets it).
pub(super) fn component_resources(
    system: &StormTopology,
    total: &Map<String, Value>,
) -> BTreeMap<String, Resources> {
    let num = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_f64);
    let mut out = BTreeMap::new();
    for (id, common) in all_components(system) {
        let own: Map<String, Value> = common
            .json_conf
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let acker = id == crate::topology::system::ACKER_COMPONENT_ID;
        let pick = |component_key: &str, acker_key: &str, default: f64| {
            num(&own, component_key)
                .or_else(|| acker.then(|| num(total, acker_key)).flatten())
                .or_else(|| num(total, component_key))
                .unwrap_or(default)
        };
        out.insert(
            id.to_string(),
            Resources {
                on_heap_mb: pick(
                    "topology.component.resources.onheap.memory.mb",
                    "topology.acker.resources.onheap.memory.mb",
                    128.0,
                ),
                off_heap_mb: pick(
                    "topology.component.resources.offheap.memory.mb",
                    "topology.acker.resources.offheap.memory.mb",
                    0.0,
                ),
                cpu: pick(
                    "topology.component.cpu.pcore.percent",
                    "topology.acker.cpu.pcore.percent",
                    10.0,
                ),
            },
        );
    }
    out
}

#[derive(Default)]
pub(super) struct Stopper {
    stopped: Mutex<bool>,
    cond: Condvar,
}

impl Stopper {
    /// Waits up to `d`; true when stopped.
    pub(super) fn wait(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .cond
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One nimbus: its cluster state, election, local files and timers.
pub struct Nimbus {
    pub(super) conf: Config,
    pub(super) cluster_conf: Map<String, Value>,
    pub(super) paths: StormPaths,
    pub(super) cluster: ClusterState,
    pub(super) elector: LeaderElector,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) launch_secs: i64,
    pub(super) owner: String,
    pub(super) submitted: AtomicU64,
    pub(super) submit_lock: Mutex<()>,
    pub(super) uploads: Mutex<HashMap<String, Upload>>,
    pub(super) facts: Mutex<HashMap<String, TopoFacts>>,
    /// Topology id → the generation of its pending REMOVE (a newer kill supersedes an older timer).
    pub(super) pending_removals: Mutex<HashMap<String, u64>>,
    pub(super) removal_seq: AtomicU64,
    pub(super) stopper: Arc<Stopper>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Executor liveness from the RPC heartbeats of supervisors and workers.
    pub(super) heartbeats: Mutex<HeartbeatCache>,
    /// The heartbeat recovery wait of a new leader.
    pub(super) hb_recovery: Mutex<Recovery>,
    /// Topology id → the generation of its pending DO_REBALANCE.
    pub(super) pending_rebalances: Mutex<HashMap<String, u64>>,
    /// The blob store (`<storm.local.dir>/blobs`): every topology's code and dependencies, and
    /// users' blobs.
    pub(super) blobs: BlobStore,
    /// Held during a blob sync round (one at a time).
    pub(super) blob_sync: Mutex<()>,
    /// `nimbus.authorizer` (`None`: everything allowed).
    pub(super) authorizer: Option<crate::security::Authorizer>,
}

impl std::fmt::Debug for Nimbus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nimbus")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Nimbus {
    /// Registers `/nimbuses/<host:port>`, joins the election and starts the leadership watcher (which
    /// finishes pending kills when this nimbus becomes leader).
    pub fn start(
        conf: Config,
        storage: Arc<dyn StateStorage>,
        host: &str,
        port: u16,
    ) -> anyhow::Result<Arc<Nimbus>> {
        let paths = StormPaths::from_config(&conf)?;
        let inbox = paths.nimbus_inbox();
        std::fs::create_dir_all(&inbox)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", inbox.display()))?;
        let blobs = BlobStore::open(
            paths.local_dir().join("blobs"),
            Duration::from_secs(conf.get_u64("nimbus.blobstore.expiration.secs")?),
            usize::try_from(conf.get_u64("storm.blobstore.inputstream.buffer.size.bytes")?)
                .unwrap_or(65536),
        )?;
        let cluster = ClusterState::new(storage.clone())?;
        let launch_secs = now_secs();
        let id = format!("{host}:{port}");
        let tls_port = conf
            .get_opt_i64(crate::security::tls::NIMBUS_TLS_PORT)?
            .filter(|p| *p > 0)
            .and_then(|p| i32::try_from(p).ok());
        cluster.add_nimbus_host(
            &id,
            &NimbusSummary::new(
                host.to_string(),
                i32::from(port),
                to_i32(launch_secs),
                false,
                crate::STORM_VERSION.to_string(),
                tls_port,
            ),
        )?;
        let elector = LeaderElector::new(storage, id)?;
        let owner = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "storm".to_string());
        let authorizer =
            crate::security::Authorizer::from_conf(&conf.to_json(), "nimbus.authorizer")?;
        if authorizer.is_some() {
            tracing::info!(authorizer = ?conf.get("nimbus.authorizer"), "nimbus.authorizer is on");
        }
        let nimbus = Arc::new(Nimbus {
            authorizer,
            cluster_conf: conf.to_json(),
            conf,
            paths,
            cluster,
            elector,
            host: host.to_string(),
            port,
            launch_secs,
            owner,
            submitted: AtomicU64::new(0),
            submit_lock: Mutex::new(()),
            uploads: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
            pending_removals: Mutex::new(HashMap::new()),
            removal_seq: AtomicU64::new(0),
            stopper: Arc::new(Stopper::default()),
            threads: Mutex::new(Vec::new()),
            heartbeats: Mutex::new(HeartbeatCache::default()),
            hb_recovery: Mutex::new(Recovery::default()),
            pending_rebalances: Mutex::new(HashMap::new()),
            blobs,
            blob_sync: Mutex::new(()),
        });
        let weak = Arc::downgrade(&nimbus);
        let stopper = nimbus.stopper.clone();
        let watcher = std::thread::Builder::new()
            .name("nimbus-leadership".into())
            .spawn(move || leadership_loop(weak, stopper))?;
        lock(&nimbus.threads).push(watcher);
        nimbus.start_timers()?;
        Ok(nimbus)
    }

    /// `host:port`, the participant id in the election.
    pub fn id(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    /// Waits until this nimbus leads (for tests and start-up logs).
    pub fn await_leadership(&self, timeout: Duration) -> bool {
        self.elector.await_leadership(timeout)
    }

    pub fn cluster(&self) -> &ClusterState {
        &self.cluster
    }

    pub fn paths(&self) -> &StormPaths {
        &self.paths
    }

    /// Stops timers and the watcher, leaves the election and closes the ZooKeeper session.
    pub fn shutdown(&self) {
        self.stopper.stop();
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        self.elector.close();
        self.cluster.disconnect();
    }

    pub(super) fn assert_leader(&self) -> Result<()> {
        if self.elector.is_leader() {
            return Ok(());
        }
        let leader = self
            .elector
            .leader()
            .ok()
            .flatten()
            .unwrap_or_else(|| "unknown".into());
        Err(NimbusError::Internal(format!(
            "not a leader, current leader is {leader}"
        )))
    }

    // ---- code upload ----

    fn expire_uploads(&self, uploads: &mut HashMap<String, Upload>) {
        let ttl = Duration::from_secs(
            self.conf
                .get_u64("nimbus.file.copy.expiration.secs")
                .unwrap_or(600),
        );
        uploads.retain(|loc, u| {
            let keep = u.touched.elapsed() < ttl;
            if !keep {
                tracing::warn!(location = %loc, "upload timed out; discarded");
            }
            keep
        });
    }

    /// `beginFileUpload`: a new `nimbus/inbox/stormjar-<uuid>.jar`, returned as the upload location.
    pub fn begin_file_upload(&self) -> Result<String> {
        let path = self
            .paths
            .nimbus_inbox_jar(&uuid::Uuid::new_v4().to_string());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        }
        let file = File::create(&path).map_err(|e| io_error("create", &path, e))?;
        let location = path.to_string_lossy().into_owned();
        let mut uploads = lock(&self.uploads);
        self.expire_uploads(&mut uploads);
        if uploads.len() >= MAX_OPEN_UPLOADS {
            drop(uploads);
            let _ = std::fs::remove_file(&path);
            return Err(NimbusError::Internal(format!(
                "too many uploads in progress ({MAX_OPEN_UPLOADS}); finish or abandon some first"
            )));
        }
        uploads.insert(
            location.clone(),
            Upload {
                file,
                touched: Instant::now(),
            },
        );
        tracing::info!(%location, "uploading file");
        Ok(location)
    }

    /// `uploadChunk`: appends to an upload in progress.
    pub fn upload_chunk(&self, location: &str, chunk: &[u8]) -> Result<()> {
        let mut uploads = lock(&self.uploads);
        let Some(upload) = uploads.get_mut(location) else {
            return Err(NimbusError::Internal(
                "File for that location does not exist (or timed out)".into(),
            ));
        };
        upload
            .file
            .write_all(chunk)
            .map_err(|e| io_error("write", Path::new(location), e))?;
        upload.touched = Instant::now();
        Ok(())
    }

    /// `finishFileUpload`: closes an upload.
    pub fn finish_file_upload(&self, location: &str) -> Result<()> {
        let Some(upload) = lock(&self.uploads).remove(location) else {
            return Err(NimbusError::Internal(
                "File for that location does not exist (or timed out)".into(),
            ));
        };
        upload
            .file
            .sync_all()
            .map_err(|e| io_error("sync", Path::new(location), e))?;
        tracing::info!(%location, "finished uploading file");
        Ok(())
    }

    /// The uploaded jar behind `location`: a finished upload inside this nimbus's inbox.
    fn uploaded_jar(&self, location: &str) -> Result<PathBuf> {
        let refuse = |why: &str| {
            NimbusError::Internal(format!(
                "uploaded jar location {location} {why}; upload it with beginFileUpload, uploadChunk \
                 and finishFileUpload first"
            ))
        };
        if lock(&self.uploads).contains_key(location) {
            return Err(refuse("is still being uploaded"));
        }
        let inbox = std::fs::canonicalize(self.paths.nimbus_inbox())
            .map_err(|e| io_error("read", &self.paths.nimbus_inbox(), e))?;
        let path = std::fs::canonicalize(location).map_err(|_| refuse("does not exist"))?;
        if !path.starts_with(&inbox) || !path.is_file() {
            return Err(refuse("is not a file in nimbus's inbox"));
        }
        Ok(path)
    }

    // ---- topologies ----

    /// Finds the live topology named `name`: `(id, base)`.
    fn find_by_name(&self, name: &str) -> Result<Option<(String, StormBase)>> {
        for id in self.cluster.active_storms()? {
            if let Some(base) = self.cluster.storm_base(&id, false)? {
                if base.name == name {
                    return Ok(Some((id, base)));
                }
            }
        }
        Ok(None)
    }

    pub(super) fn alive(&self, name: &str) -> Result<(String, StormBase)> {
        self.find_by_name(name)?
            .ok_or_else(|| NimbusError::NotAlive(format!("{name} is not alive")))
    }

    /// The principal of the Thrift call this thread serves (`debug.simple.transport.user` on the
    /// plain transport when set).
    pub fn caller(&self) -> Option<String> {
        match &self.authorizer {
            Some(a) => a.caller(),
            None => crate::security::ReqContext::current()
                .principal
                .or_else(|| {
                    self.cluster_conf
                        .get("debug.simple.transport.user")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
        }
    }

    /// Storm's `checkAuthorization`: `operation` on `topology` (its name and merged conf), refused
    /// with Storm's `AuthorizationException` text.
    pub fn check_authorization(
        &self,
        topology: Option<&str>,
        topo_conf: Option<&Map<String, Value>>,
        operation: &str,
    ) -> Result<()> {
        let Some(a) = &self.authorizer else {
            return Ok(());
        };
        let mut check = Map::new();
        match (topo_conf, topology) {
            (Some(c), _) => check = c.clone(),
            (None, Some(name)) => {
                check.insert("topology.name".into(), Value::from(name));
            }
            (None, None) => {}
        }
        let principal = a.caller();
        if a.permit(principal.as_deref(), operation, &check) {
            return Ok(());
        }
        tracing::info!(%operation, topology = ?topology, principal = ?principal, "access denied by nimbus.authorizer");
        Err(NimbusError::Authorization(
            crate::security::authorizer::denied_message(operation, topology),
        ))
    }

    /// [`check_authorization`](Self::check_authorization) of a topology operation on topology `id`.
    pub fn authorize_id(&self, id: &str, operation: &str) -> Result<()> {
        if self.authorizer.is_none() {
            return Ok(());
        }
        let conf = merged_conf(&self.cluster_conf, &self.read_topology_conf(id)?);
        let name = conf
            .get("topology.name")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.check_authorization(name.as_deref(), Some(&conf), operation)
    }

    /// [`check_authorization`](Self::check_authorization) of a topology operation on the live
    /// topology `name` (`NotAliveException` first when there is none).
    pub fn authorize_name(&self, name: &str, operation: &str) -> Result<()> {
        if self.authorizer.is_none() {
            return Ok(());
        }
        let (id, _) = self.alive(name)?;
        self.authorize_id(&id, operation)
    }

    /// `isTopologyNameAllowed`: a valid name no live topology has.
    pub fn is_topology_name_allowed(&self, name: &str) -> Result<bool> {
        Ok(is_valid_topology_name(name) && self.find_by_name(name)?.is_none())
    }

    /// `submitTopologyWithOpts`; returns the new topology id.
    pub fn submit(
        &self,
        name: &str,
        uploaded_jar_location: &str,
        json_conf: &str,
        topology: &StormTopology,
        initial_status: TopologyInitialStatus,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        self.assert_leader()?;
        validate_topology_name(name)?;
        let status = match initial_status {
            TopologyInitialStatus::ACTIVE => TopologyStatus::ACTIVE,
            TopologyInitialStatus::INACTIVE => TopologyStatus::INACTIVE,
            other => {
                return Err(NimbusError::InvalidTopology(format!(
                    "Unknown initial status {}",
                    other.0
                )))
            }
        };
        let _guard = lock(&self.submit_lock);
        if self.find_by_name(name)?.is_some() {
            return Err(NimbusError::AlreadyAlive(format!(
                "{name} is already alive"
            )));
        }
        let user_conf = parse_topology_conf(json_conf)?;
        check_component_objects(topology)?;
        let now = now_secs();
        let counter = self.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        let id = topology_id(name, counter, now);
        // Storm: the submitting principal owns the topology and joins its topology.users.
        let principal = self.caller();
        let ptol = self
            .authorizer
            .as_ref()
            .map(|a| a.principal_to_local())
            .unwrap_or_default();
        let submitter_user = ptol.to_local(principal.as_deref());
        let owner = submitter_user.clone().unwrap_or_else(|| self.owner.clone());
        let mut topo_conf = normalize_conf(&self.cluster_conf, &user_conf, &id, name, &owner);
        if let Some(p) = &principal {
            topo_conf.insert(
                "topology.submitter.principal".into(),
                Value::from(p.as_str()),
            );
            let mut users = crate::security::authorizer::strings(topo_conf.get("topology.users"));
            users.insert(p.clone());
            users.extend(submitter_user.clone());
            topo_conf.insert(
                "topology.users".into(),
                Value::Array(users.into_iter().map(Value::from).collect()),
            );
        }
        let topology_user = topo_conf
            .get("topology.submitter.user")
            .and_then(Value::as_str)
            .unwrap_or(&owner)
            .to_string();
        // ZooKeeper ACLs and worker-link authentication: the topology's digest payload.
        if acl::prepare_topology_auth(&self.cluster_conf, &mut topo_conf, &topology_user) {
            tracing::info!(topology = %id, "generated the topology's ZooKeeper/worker-link secret");
        }
        let topo_conf = topo_conf;
        let total = merged_conf(&self.cluster_conf, &topo_conf);
        let invalid =
            |e: crate::topology::system::InvalidTopology| NimbusError::InvalidTopology(e.0);
        let normalized = normalize_topology(topology, &total).map_err(invalid)?;
        self.check_dependencies(&normalized)?;
        // Storm's validateTopologyBlobStoreMap: every blob the topology names must exist.
        for entry in crate::topology::blob_map::blobstore_map(&total)
            .map_err(NimbusError::InvalidTopology)?
        {
            if !self.blobs.contains(&entry.key) {
                return Err(NimbusError::InvalidTopology(format!(
                    "Key not found: {} (topology.blobstore.map names a blob nimbus does not have; create it with storm blobstore create)",
                    entry.key
                )));
            }
        }
        let system = system_topology(&normalized, &total).map_err(invalid)?;
        let num_tasks = task_to_component(&system).map_err(invalid)?.len();
        let component_executors: BTreeMap<String, i32> = all_components(&system)
            .into_iter()
            .map(|(c, common)| (c.to_string(), parallelism_hint(common)))
            .collect();
        let num_workers = to_i32(json_int(total.get("topology.workers")).unwrap_or(1));
        let jar = if uploaded_jar_location.is_empty() {
            None
        } else {
            Some(self.uploaded_jar(uploaded_jar_location)?)
        };

        self.store_topology_code(&id, jar.as_deref(), &normalized, &topo_conf)?;
        let result = self.wait_for_code_replication(&id, &total).and_then(|()| {
            self.start_topology(
                &id,
                name,
                status,
                num_workers,
                component_executors,
                now,
                &topo_conf,
                creds,
            )
        });
        if let Err(e) = result {
            self.delete_topology_code(&id);
            return Err(e);
        }
        lock(&self.facts).insert(
            id.clone(),
            TopoFacts {
                num_tasks: to_i32(num_tasks as i64),
                message_timeout_secs: json_int(total.get("topology.message.timeout.secs"))
                    .unwrap_or(30),
                tasks: Arc::new(task_to_component(&system).map_err(invalid)?),
                heartbeat_timeout_secs: self.heartbeat_timeout(&total),
                resources: Arc::new(component_resources(&system, &total)),
                zk_acls: TopologyAcls::from_topology_conf(&total),
            },
        );
        tracing::info!(topology = %id, status = %status_name(status), num_tasks, "topology submitted");
        // Scheduled at once (Storm waits for the next monitor round).
        if let Err(e) = self.mk_assignments_locked(now_secs(), None) {
            tracing::error!(topology = %id, error = %e, "cannot schedule the new topology");
        }
        Ok(id)
    }

    /// Every entry of `dependency_jars` and `dependency_artifacts` must be a blob in this nimbus's
    /// blob store (Storm's `StormSubmitter`/`DependencyUploader` keys `dep-<name>-<uuid>.jar`,
    /// `dep-<group>-<artifact>-<version>.jar`; `storm jar --jars/--artifacts` uploads them the same
    /// way). Supervisors download them by key into `supervisor/stormdist/<id>/dependencies/<key>`.
    fn check_dependencies(&self, topology: &StormTopology) -> Result<()> {
        let mut seen = BTreeSet::new();
        for entry in [&topology.dependency_jars, &topology.dependency_artifacts]
            .into_iter()
            .flatten()
            .flatten()
        {
            if !self.blobs.contains(entry) {
                return Err(NimbusError::InvalidTopology(format!(
                    "dependency \"{entry}\" is not a blob in nimbus's blob store (upload it with \
                     beginCreateBlob/uploadBlobChunk/finishBlobUpload, as Storm's StormSubmitter does)"
                )));
            }
            if !crate::paths::is_dependency_name(entry) || !seen.insert(entry) {
                return Err(NimbusError::InvalidTopology(format!(
                    "dependency \"{entry}\" is not a plain file name or is listed twice"
                )));
            }
        }
        Ok(())
    }

    /// Stores a submission's code as blobs (`<id>-stormjar.jar` from the uploaded jar,
    /// `<id>-stormcode.ser`, `<id>-stormconf.ser`) and registers them in ZooKeeper. On failure nothing
    /// is left behind.
    fn store_topology_code(
        &self,
        id: &str,
        jar: Option<&Path>,
        topology: &StormTopology,
        conf: &Map<String, Value>,
    ) -> Result<()> {
        let meta = crate::thrift::SettableBlobMeta {
            acl: Vec::new(),
            replication_factor: None,
        };
        let stored = (|| {
            if let Some(jar) = jar {
                let mut input = File::open(jar).map_err(|e| io_error("read", jar, e))?;
                let mut writer = self.blobs.writer(&stormjar_key(id))?;
                std::io::copy(&mut input, &mut writer).map_err(|e| io_error("copy", jar, e))?;
                writer.commit(&meta)?;
            }
            self.blobs.put(
                &stormcode_key(id),
                &meta,
                &crate::thrift::serialize(topology),
            )?;
            self.blobs.put(
                &stormconf_key(id),
                &meta,
                &crate::thrift::conf_to_gzip_json(conf),
            )?;
            for key in topology_keys(id) {
                if self.blobs.contains(&key) {
                    self.blob_changed(&key)?;
                }
            }
            Ok(())
        })();
        if stored.is_err() {
            self.delete_topology_code(id);
        }
        stored
    }

    /// Deletes a topology's code blobs here and in ZooKeeper (best effort, logged).
    pub(super) fn delete_topology_code(&self, id: &str) {
        for key in topology_keys(id) {
            if self.blobs.contains(&key) {
                if let Err(e) = self.blobs.delete(&key) {
                    tracing::warn!(%key, error = %e, "cannot delete the topology's blob");
                }
            }
            if let Err(e) = self.blob_removed(&key) {
                tracing::warn!(%key, error = %e, "cannot remove the blob's ZooKeeper state");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_topology(
        &self,
        id: &str,
        name: &str,
        status: TopologyStatus,
        num_workers: i32,
        component_executors: BTreeMap<String, i32>,
        now: i64,
        topo_conf: &Map<String, Value>,
        creds: Option<&Credentials>,
    ) -> Result<()> {
        let acls = TopologyAcls::from_topology_conf(&merged_conf(&self.cluster_conf, topo_conf));
        if let Some(creds) = creds.filter(|c| !c.creds.is_empty()) {
            self.cluster.set_credentials(id, creds, &acls)?;
        }
        self.cluster.setup_heartbeats(id, &acls)?;
        self.cluster.setup_errors(id, &acls)?;
        let base = StormBase::new(
            name.to_string(),
            status,
            num_workers,
            component_executors,
            to_i32(now),
            topo_conf
                .get("topology.submitter.user")
                .and_then(Value::as_str)
                .map_or_else(|| self.owner.clone(), str::to_string),
            None,
            None,
            BTreeMap::new(),
            String::new(),
            topo_conf
                .get("topology.version")
                .and_then(Value::as_str)
                .map(str::to_string),
        );
        self.cluster.activate_storm(id, &base, &acls)?;
        Ok(())
    }

    /// `killTopology[WithOpts]`: status KILLED now, removal after `wait_secs` (default: the
    /// topology's `topology.message.timeout.secs`).
    pub fn kill(self: &Arc<Self>, name: &str, wait_secs: Option<i32>) -> Result<()> {
        self.assert_leader()?;
        let _guard = lock(&self.submit_lock);
        let (id, base) = self.alive(name)?;
        if transition(base.status, TopologyAction::Kill).is_none() {
            return Err(no_transition(TopologyAction::Kill, base.status, &id));
        }
        let delay =
            i64::from(wait_secs.unwrap_or_else(|| to_i32(self.message_timeout(&id)))).max(0);
        self.cluster.update_storm(
            &id,
            StormBaseUpdate {
                status: Some(TopologyStatus::KILLED),
                topology_action_options: Some(TopologyActionOptions::KillOptions(
                    KillOptions::new(to_i32(delay)),
                )),
                ..StormBaseUpdate::default()
            },
        )?;
        tracing::info!(topology = %id, wait_secs = delay, "topology killed; removal scheduled");
        self.add_to_history(&id);
        self.schedule_removal(&id, Duration::from_secs(delay as u64));
        Ok(())
    }

    /// `activate` / `deactivate`.
    pub fn set_active(&self, name: &str, active: bool) -> Result<()> {
        self.assert_leader()?;
        let action = if active {
            TopologyAction::Activate
        } else {
            TopologyAction::Inactivate
        };
        let _guard = lock(&self.submit_lock);
        let (id, base) = self.alive(name)?;
        match transition(base.status, action) {
            None => Err(no_transition(action, base.status, &id)),
            Some(Transition::To(status)) => {
                self.cluster.update_storm(
                    &id,
                    StormBaseUpdate {
                        status: Some(status),
                        ..StormBaseUpdate::default()
                    },
                )?;
                tracing::info!(topology = %id, status = %status_name(status), "topology status changed");
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }

    pub(super) fn message_timeout(&self, id: &str) -> i64 {
        if let Some(f) = lock(&self.facts).get(id) {
            return f.message_timeout_secs;
        }
        let from_topo = self
            .read_topology_conf(id)
            .ok()
            .and_then(|c| json_int(c.get("topology.message.timeout.secs")));
        from_topo
            .or_else(|| json_int(self.cluster_conf.get("topology.message.timeout.secs")))
            .unwrap_or(30)
    }

    fn schedule_removal(self: &Arc<Self>, id: &str, delay: Duration) {
        let generation = self.removal_seq.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.pending_removals).insert(id.to_string(), generation);
        self.after_delay(id, delay, "remove", move |nimbus, id| {
            nimbus.remove_if_killed(id, generation)
        });
    }

    /// Runs a delayed status transition (`what`: "remove", "rebalance") for topology `id` on its own
    /// timer thread, unless nimbus stops first; a failure is logged.
    pub(super) fn after_delay(
        self: &Arc<Self>,
        id: &str,
        delay: Duration,
        what: &'static str,
        action: impl FnOnce(&Nimbus, &str) -> Result<()> + Send + 'static,
    ) {
        let weak = Arc::downgrade(self);
        let stopper = self.stopper.clone();
        let id2 = id.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("nimbus-{what}"))
            .spawn(move || {
                if stopper.wait(delay) {
                    return;
                }
                if let Some(nimbus) = weak.upgrade() {
                    if let Err(e) = action(&nimbus, &id2) {
                        tracing::error!(topology = %id2, error = %e, "cannot {what} the topology");
                    }
                }
            });
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(topology = %id, error = %e, "cannot start the {what} timer"),
        }
    }

    /// The REMOVE transition: only on the leader, only for a still-KILLED topology whose latest kill
    /// scheduled this removal. Also drops the heartbeat and error trees and the code blobs.
    fn remove_if_killed(&self, id: &str, generation: u64) -> Result<()> {
        if !self.elector.is_leader() {
            tracing::info!(topology = %id, "not the leader any more; the leader finishes the kill");
            return Ok(());
        }
        let _guard = lock(&self.submit_lock);
        if lock(&self.pending_removals).get(id) != Some(&generation) {
            return Ok(());
        }
        let Some(base) = self.cluster.storm_base(id, false)? else {
            lock(&self.pending_removals).remove(id);
            return Ok(());
        };
        if transition(base.status, TopologyAction::Remove) != Some(Transition::Remove) {
            lock(&self.pending_removals).remove(id);
            return Ok(());
        }
        // Storm's rmDependencyJarsInTopology: the topology's own dependency jars go with it
        // (artifacts are shared between topologies and stay). Only `dep-` keys: the lists come from
        // the client and could name any blob.
        let jars: Vec<String> = self
            .read_user_topology(id)
            .map(|t| t.dependency_jars.unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter(|k| k.starts_with("dep-"))
            .collect();
        self.cluster.remove_storm(id)?;
        self.cluster.teardown_heartbeats(id)?;
        self.cluster.teardown_topology_errors(id)?;
        self.delete_topology_code(id);
        for key in jars {
            if self.blobs.contains(&key) {
                if let Err(e) = self
                    .blobs
                    .delete(&key)
                    .map_err(NimbusError::from)
                    .and_then(|()| self.blob_removed(&key))
                {
                    tracing::warn!(%key, error = %e, "cannot delete a dependency jar of the removed topology");
                }
            }
        }
        lock(&self.facts).remove(id);
        lock(&self.pending_removals).remove(id);
        tracing::info!(topology = %id, "killed topology removed");
        Ok(())
    }

    /// On gaining leadership: re-schedules the REMOVE of every KILLED topology and the DO_REBALANCE of
    /// every REBALANCING one (Storm's GAIN_LEADERSHIP event), so kills and rebalances survive a nimbus
    /// restart or failover.
    fn on_gain_leadership(self: &Arc<Self>) -> Result<()> {
        lock(&self.hb_recovery).reset();
        tracing::info!(nimbus = %self.id(), "gained leadership");
        self.claim_blobs()?;
        for id in self.cluster.active_storms()? {
            let Some(base) = self.cluster.storm_base(&id, false)? else {
                continue;
            };
            if base.status == TopologyStatus::REBALANCING {
                let wait = match &base.topology_action_options {
                    Some(TopologyActionOptions::RebalanceOptions(r)) => r.wait_secs,
                    _ => None,
                }
                .map(i64::from)
                .unwrap_or_else(|| self.message_timeout(&id))
                .max(0);
                tracing::info!(topology = %id, wait_secs = wait, "finishing a pending rebalance");
                self.schedule_do_rebalance(&id, Duration::from_secs(wait as u64));
                continue;
            }
            if base.status != TopologyStatus::KILLED {
                continue;
            }
            let wait = match &base.topology_action_options {
                Some(TopologyActionOptions::KillOptions(k)) => k.wait_secs,
                _ => None,
            }
            .map(i64::from)
            .unwrap_or_else(|| self.message_timeout(&id))
            .max(0);
            tracing::info!(topology = %id, wait_secs = wait, "finishing a pending kill");
            self.schedule_removal(&id, Duration::from_secs(wait as u64));
        }
        Ok(())
    }

    // ---- reading topologies ----

    /// `NotAliveException(id)` unless this nimbus holds topology `id`'s code.
    fn require_known(&self, id: &str) -> Result<()> {
        if self.blobs.contains(&stormcode_key(id)) && self.blobs.contains(&stormconf_key(id)) {
            Ok(())
        } else {
            Err(NimbusError::NotAlive(id.to_string()))
        }
    }

    /// A code blob of topology `id`; `NotAliveException(id)` when this nimbus does not hold it.
    fn read_code_blob(&self, id: &str, key: &str) -> Result<Vec<u8>> {
        match self.blobs.read(key) {
            Ok(bytes) => Ok(bytes),
            Err(BlobError::KeyNotFound(_)) => Err(NimbusError::NotAlive(id.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// The saved topology conf (blob `<id>-stormconf.ser`).
    pub fn read_topology_conf(&self, id: &str) -> Result<Map<String, Value>> {
        let key = stormconf_key(id);
        let bytes = self.read_code_blob(id, &key)?;
        crate::thrift::gzip_json_to_conf(&bytes)
            .map_err(|e| NimbusError::Internal(format!("blob {key}: {e}")))
    }

    /// The saved (normalized user) topology (blob `<id>-stormcode.ser`), Storm's `getUserTopology`.
    pub fn read_user_topology(&self, id: &str) -> Result<StormTopology> {
        let key = stormcode_key(id);
        let bytes = self.read_code_blob(id, &key)?;
        crate::thrift::deserialize(&bytes)
            .map_err(|e| NimbusError::Internal(format!("blob {key}: {e}")))
    }

    /// The system topology (`getTopology`).
    pub fn read_system_topology(&self, id: &str) -> Result<StormTopology> {
        let user = self.read_user_topology(id)?;
        let total = merged_conf(&self.cluster_conf, &self.read_topology_conf(id)?);
        system_topology(&user, &total).map_err(|e| NimbusError::Internal(e.0))
    }

    /// `getTopologyConf` as JSON text.
    /// Storm's `getTopologyConf`: the whole configuration the topology runs with (the cluster's
    /// with the topology's laid over it, as Storm stores it), ZooKeeper secrets redacted.
    pub fn topology_conf_json(&self, id: &str) -> Result<String> {
        let mut total = merged_conf(&self.cluster_conf, &self.read_topology_conf(id)?);
        redact_secrets(&mut total);
        Ok(Value::Object(total).to_string())
    }

    /// `getNimbusConf`: the daemon's configuration as JSON text.
    pub fn nimbus_conf_json(&self) -> String {
        let mut conf = self.cluster_conf.clone();
        redact_secrets(&mut conf);
        Value::Object(conf).to_string()
    }

    fn num_tasks(&self, id: &str) -> i32 {
        self.facts(id).map(|f| f.num_tasks).unwrap_or(0)
    }

    /// What nimbus remembers about a topology, read from its code blobs the first time.
    pub(super) fn facts(&self, id: &str) -> Result<TopoFacts> {
        if let Some(f) = lock(&self.facts).get(id) {
            return Ok(f.clone());
        }
        let system = self.read_system_topology(id)?;
        let tasks = task_to_component(&system).map_err(|e| NimbusError::Internal(e.0))?;
        let total = merged_conf(&self.cluster_conf, &self.read_topology_conf(id)?);
        let facts = TopoFacts {
            num_tasks: to_i32(tasks.len() as i64),
            message_timeout_secs: self.message_timeout(id),
            tasks: Arc::new(tasks),
            heartbeat_timeout_secs: self.heartbeat_timeout(&total),
            resources: Arc::new(component_resources(&system, &total)),
            zk_acls: TopologyAcls::from_topology_conf(&total),
        };
        lock(&self.facts).insert(id.to_string(), facts.clone());
        Ok(facts)
    }

    /// `sendSupervisorWorkerHeartbeats` (the leader only; others ignore it, as Storm's do).
    pub fn supervisor_worker_heartbeats(&self, beats: &SupervisorWorkerHeartbeats) {
        self.supervisor_worker_heartbeats_at(beats, now_secs());
    }

    /// [`Self::supervisor_worker_heartbeats`] received at nimbus time `now`.
    pub fn supervisor_worker_heartbeats_at(&self, beats: &SupervisorWorkerHeartbeats, now: i64) {
        if !self.elector.is_leader() {
            return;
        }
        let mut cache = lock(&self.heartbeats);
        for hb in &beats.worker_heartbeats {
            let execs: Vec<(i32, i32)> = hb
                .executors
                .iter()
                .map(|e| (e.task_start, e.task_end))
                .collect();
            cache.update_worker(&hb.storm_id, &execs, i64::from(hb.time_secs), now);
        }
        drop(cache);
        if !beats.supervisor_id.is_empty() {
            lock(&self.hb_recovery).report_node(&beats.supervisor_id);
        }
    }

    /// `sendSupervisorWorkerHeartbeat`: one worker whose supervisor cannot be reached.
    pub fn worker_heartbeat(&self, hb: &SupervisorWorkerHeartbeat) -> Result<()> {
        if self.cluster.storm_base(&hb.storm_id, false)?.is_none() {
            return Err(NimbusError::NotAlive(format!(
                "{} does not appear to be alive",
                hb.storm_id
            )));
        }
        if self.elector.is_leader() {
            let execs: Vec<(i32, i32)> = hb
                .executors
                .iter()
                .map(|e| (e.task_start, e.task_end))
                .collect();
            lock(&self.heartbeats).update_worker(
                &hb.storm_id,
                &execs,
                i64::from(hb.time_secs),
                now_secs(),
            );
        }
        Ok(())
    }

    /// Storm's `getTopologyHeartbeatTimeoutSecs`: `nimbus.task.timeout.secs`, or
    /// `topology.worker.timeout.secs` when set and larger.
    pub(super) fn heartbeat_timeout(&self, total: &Map<String, Value>) -> i64 {
        let nimbus = json_int(self.cluster_conf.get("nimbus.task.timeout.secs")).unwrap_or(30);
        json_int(total.get("topology.worker.timeout.secs")).map_or(nimbus, |t| t.max(nimbus))
    }

    fn topology_summary(&self, id: &str, base: &StormBase, now: i64) -> Result<TopologySummary> {
        // A missing or unreadable assignment (none exist until a scheduler writes them) falls back
        // to the planned numbers.
        let assignment: Option<Assignment> = match self.cluster.assignment_info(id, false) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(topology = %id, error = %e, "cannot read the assignment");
                None
            }
        };
        let (num_executors, num_workers) = match &assignment {
            Some(a) => {
                let executors = a
                    .executor_node_port
                    .as_ref()
                    .map(|m| m.keys().filter(|k| k.first() != Some(&-1)).count())
                    .unwrap_or(0);
                let slots: BTreeSet<(String, Option<i64>)> = a
                    .executor_node_port
                    .iter()
                    .flat_map(|m| m.values())
                    .map(|n| (n.node.clone(), n.first_port()))
                    .collect();
                (to_i32(executors as i64), to_i32(slots.len() as i64))
            }
            None => (
                base.component_executors
                    .iter()
                    .flatten()
                    .filter(|(c, _)| c.as_str() != crate::topology::system::SYSTEM_COMPONENT_ID)
                    .map(|(_, n)| *n)
                    .sum(),
                base.num_workers,
            ),
        };
        let uptime = base
            .launch_time_secs
            .map(|t| to_i32((now - i64::from(t)).max(0)))
            .unwrap_or(0);
        let (requested, assigned) = self.topology_resources(id, base, assignment.as_ref());
        Ok(TopologySummary {
            id: id.to_string(),
            name: base.name.clone(),
            num_tasks: self.num_tasks(id),
            num_executors,
            num_workers,
            uptime_secs: uptime,
            status: status_name(base.status),
            storm_version: Some(crate::STORM_VERSION.to_string()),
            topology_version: base.topology_version.clone(),
            sched_status: None,
            owner: base.owner.clone(),
            replication_count: Some(self.topology_replication(id)),
            requested_memonheap: Some(OrderedFloat(requested.on_heap_mb)),
            requested_memoffheap: Some(OrderedFloat(requested.off_heap_mb)),
            requested_cpu: Some(OrderedFloat(requested.cpu)),
            assigned_memonheap: Some(OrderedFloat(assigned.on_heap_mb)),
            assigned_memoffheap: Some(OrderedFloat(assigned.off_heap_mb)),
            assigned_cpu: Some(OrderedFloat(assigned.cpu)),
            requested_generic_resources: None,
            assigned_generic_resources: None,
        })
    }

    /// Storm's `getSupervisorAssignments(node)`: every assignment with an executor on supervisor
    /// `node` (leader only, as Storm).
    pub fn supervisor_assignments(
        &self,
        node: &str,
    ) -> Result<crate::thrift::SupervisorAssignments> {
        self.assert_leader()?;
        let mut out = BTreeMap::new();
        for id in self.cluster.assignments(false)? {
            if let Some(a) = self.cluster.assignment_info(&id, false)? {
                if a.node_host.as_ref().is_some_and(|h| h.contains_key(node)) {
                    out.insert(id, a);
                }
            }
        }
        Ok(crate::thrift::SupervisorAssignments {
            storm_assignment: Some(out),
        })
    }

    /// What a topology requests (every executor of `component_executors`, system ones included)
    /// and what its assignment gives its workers (`worker_resources`).
    pub(super) fn topology_resources(
        &self,
        id: &str,
        base: &StormBase,
        assignment: Option<&Assignment>,
    ) -> (Resources, Resources) {
        let mut requested = Resources::default();
        if let Ok(facts) = self.facts(id) {
            for (component, n) in base.component_executors.iter().flatten() {
                if component == crate::topology::system::SYSTEM_COMPONENT_ID {
                    continue;
                }
                if let Some(r) = facts.resources.get(component) {
                    for _ in 0..(*n).max(0) {
                        requested += *r;
                    }
                }
            }
        }
        let mut assigned = Resources::default();
        for r in assignment
            .and_then(|a| a.worker_resources.as_ref())
            .into_iter()
            .flat_map(|m| m.values())
        {
            assigned += Resources {
                on_heap_mb: r.mem_on_heap.map_or(0.0, |v| v.0),
                off_heap_mb: r.mem_off_heap.map_or(0.0, |v| v.0),
                cpu: r.cpu.map_or(0.0, |v| v.0),
            };
        }
        (requested, assigned)
    }

    /// Every live topology's summary.
    pub fn topology_summaries(&self) -> Result<Vec<TopologySummary>> {
        let now = now_secs();
        let mut out = Vec::new();
        for id in self.cluster.active_storms()? {
            if let Some(base) = self.cluster.storm_base(&id, false)? {
                out.push(self.topology_summary(&id, &base, now)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `getTopologySummaryByName`.
    pub fn topology_summary_by_name(&self, name: &str) -> Result<TopologySummary> {
        let (id, base) = self.alive(name)?;
        self.topology_summary(&id, &base, now_secs())
    }

    /// `getTopologySummary` (by id).
    pub fn topology_summary_by_id(&self, id: &str) -> Result<TopologySummary> {
        let base = self
            .cluster
            .storm_base(id, false)?
            .ok_or_else(|| NimbusError::NotAlive(id.to_string()))?;
        self.topology_summary(id, &base, now_secs())
    }

    /// Every registered nimbus, with uptime and `isLeader` filled in.
    pub fn nimbus_summaries(&self) -> Result<Vec<NimbusSummary>> {
        let leader = self.elector.leader()?;
        let now = now_secs();
        let mut out = self.cluster.nimbuses()?;
        for n in &mut out {
            n.uptime_secs = to_i32((now - i64::from(n.uptime_secs)).max(0));
            n.is_leader = leader.as_deref() == Some(format!("{}:{}", n.host, n.port).as_str());
        }
        Ok(out)
    }

    /// `getLeader`.
    pub fn leader_summary(&self) -> Result<NimbusSummary> {
        let Some(leader) = self.elector.leader()? else {
            return Err(NimbusError::Internal("No leader nimbus found".into()));
        };
        if let Some(n) = self.nimbus_summaries()?.into_iter().find(|n| n.is_leader) {
            return Ok(n);
        }
        // The leader has not (re-)registered under /nimbuses yet: answer from its participant id.
        let (host, port) = leader.rsplit_once(':').unwrap_or((leader.as_str(), ""));
        Ok(NimbusSummary::new(
            host.to_string(),
            port.parse().unwrap_or(0),
            0,
            true,
            crate::STORM_VERSION.to_string(),
            None,
        ))
    }

    /// `getClusterInfo`.
    pub fn cluster_info(&self) -> Result<ClusterSummary> {
        let used = self.used_slots_by_node()?;
        let supervisors = self
            .cluster
            .all_supervisor_info()?
            .iter()
            .map(|(id, info)| self.supervisor_summary(id, info, &used))
            .collect();
        Ok(ClusterSummary::new(
            supervisors,
            self.topology_summaries()?,
            self.nimbus_summaries()?,
        ))
    }

    /// A supervisor's `SupervisorSummary` (`used`: supervisor id → ports in use).
    pub(super) fn supervisor_summary(
        &self,
        id: &str,
        info: &crate::thrift::SupervisorInfo,
        used: &BTreeMap<String, BTreeSet<i64>>,
    ) -> SupervisorSummary {
        SupervisorSummary {
            host: info.hostname.clone(),
            uptime_secs: to_i32(info.uptime_secs.unwrap_or(0)),
            num_workers: to_i32(info.meta.as_ref().map_or(0, |m| m.len() as i64)),
            num_used_workers: to_i32(used.get(id).map_or(0, |p| p.len() as i64)),
            supervisor_id: id.to_string(),
            version: info.version.clone(),
            total_resources: info.resources_map.clone(),
            used_mem: None,
            used_cpu: None,
            fragmented_mem: None,
            fragmented_cpu: None,
            blacklisted: None,
            used_generic_resources: None,
        }
    }

    /// `setLogConfig`: Storm's merge into `/logconfigs/<id>` (earlier entries become UNCHANGED, UPDATE
    /// replaces a logger's entry and sets `reset_log_level_timeout_epoch` to now + timeout in epoch
    /// **milliseconds** when the timeout is positive, REMOVE drops it).
    pub fn set_log_config(&self, id: &str, config: &crate::thrift::LogConfig) -> Result<()> {
        use crate::thrift::{LogConfig, LogLevelAction};
        self.require_known(id)?;
        let mut merged = self
            .cluster
            .topology_log_config(id, false)?
            .unwrap_or(LogConfig {
                named_logger_level: None,
            });
        for level in merged
            .named_logger_level
            .iter_mut()
            .flat_map(|m| m.values_mut())
        {
            level.action = LogLevelAction::UNCHANGED;
        }
        for (name, level) in config.named_logger_level.iter().flatten() {
            if name.is_empty() {
                return Err(NimbusError::Internal(
                    "Named loggers need a valid name. Use ROOT for the root logger".into(),
                ));
            }
            match level.action {
                LogLevelAction::UPDATE => {
                    let mut level = level.clone();
                    let timeout = i64::from(level.reset_log_level_timeout_secs.unwrap_or(0));
                    level.reset_log_level_timeout_epoch =
                        (timeout > 0).then(|| now_millis() + timeout * 1000);
                    merged
                        .named_logger_level
                        .get_or_insert_with(BTreeMap::new)
                        .insert(name.clone(), level);
                }
                LogLevelAction::REMOVE => {
                    if let Some(m) = merged.named_logger_level.as_mut() {
                        m.remove(name);
                    }
                }
                _ => {}
            }
        }
        tracing::info!(topology = %id, config = ?merged, "setting log config");
        let acls = self.facts(id)?.zk_acls;
        self.cluster.set_topology_log_config(id, &merged, &acls)?;
        Ok(())
    }

    /// `getLogConfig`: `/logconfigs/<id>`, or an empty `LogConfig`.
    pub fn log_config(&self, id: &str) -> Result<crate::thrift::LogConfig> {
        self.require_known(id)?;
        Ok(self
            .cluster
            .topology_log_config(id, false)?
            .unwrap_or(crate::thrift::LogConfig {
                named_logger_level: None,
            }))
    }

    /// The launch time of this nimbus (epoch seconds).
    pub fn launch_secs(&self) -> i64 {
        self.launch_secs
    }
}

fn leadership_loop(weak: Weak<Nimbus>, stopper: Arc<Stopper>) {
    let mut was_leader = false;
    loop {
        let Some(nimbus) = weak.upgrade() else { return };
        let leader = nimbus.elector.is_leader();
        if leader && !was_leader {
            match nimbus.on_gain_leadership() {
                Ok(()) => was_leader = true,
                // Retried at the next poll.
                Err(e) => {
                    tracing::error!(error = %e, "cannot finish pending kills after gaining leadership")
                }
            }
        } else if !leader && was_leader {
            tracing::warn!(nimbus = %nimbus.id(), "lost leadership");
            was_leader = false;
        }
        drop(nimbus);
        if stopper.wait(LEADERSHIP_POLL) {
            return;
        }
    }
}
